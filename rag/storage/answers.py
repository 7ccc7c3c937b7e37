"""The answer cache's store: whole answers by key, in the shared database.

The same question reaching several replicas at once pays Claude once: the first to claim the
key (an insert-if-absent of a row without text) asks Claude; the others wait for its answer
and replay it. A claim lasts claim_seconds, so a replica that dies while answering holds no
one up for longer than that: the next asker takes the expired claim over.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from datetime import UTC, datetime

from sqlalchemy import delete, select, update

from rag.answer_cache import StoredAnswer
from rag.storage.database import Database, insert_if_absent, upsert
from rag.storage.tables import answers
from rag.types import Citation, Source, Usage

_FIRST_POLL_SECONDS = 0.02
_MAX_POLL_SECONDS = 0.25


class AnswerCache:
    """Answers by key; every call runs off the event loop."""

    def __init__(self, database: Database, claim_seconds: float = 300.0) -> None:
        self._database = database
        self._claim_ms = int(claim_seconds * 1000)

    async def get(self, key: str) -> StoredAnswer | None:
        """The stored answer for key, if any (never waits for a claim)."""
        return await asyncio.to_thread(self._get, key)

    async def get_or_claim(self, key: str) -> StoredAnswer | None:
        """The stored answer for key; None once this caller holds the claim to answer it.

        Whoever gets None must put() the answer or release() the key. While another request
        holds a live claim, this waits for its answer.
        """
        poll = _FIRST_POLL_SECONDS
        while True:
            stored = await asyncio.to_thread(self._get, key)
            if stored is not None:
                return stored
            if await asyncio.to_thread(self._claim, key):
                return None
            await asyncio.sleep(poll)
            poll = min(poll * 2, _MAX_POLL_SECONDS)

    async def put(self, key: str, model: str, answer: StoredAnswer) -> None:
        """Store answer under key (replacing any older one, ending any claim)."""
        await asyncio.to_thread(self._put, key, model, answer)

    async def release(self, key: str) -> None:
        """Give up a claim without an answer, so the next asker calls Claude itself."""
        await asyncio.to_thread(self._release, key)

    def _get(self, key: str) -> StoredAnswer | None:
        c = answers.c
        with self._database.reading() as connection:
            row = connection.execute(
                select(c.text, c.sources, c.citations, c.usage).where(
                    c.key == key, c.text.is_not(None)
                )
            ).first()
        if row is None:
            return None
        return StoredAnswer(
            text=row.text,
            sources=tuple(Source(**s) for s in json.loads(row.sources)),
            citations=tuple(Citation(**c) for c in json.loads(row.citations)),
            usage=Usage(**json.loads(row.usage)),
        )

    def _claim(self, key: str) -> bool:
        now_ms = _now_ms()
        until = now_ms + self._claim_ms
        with self._database.writing() as connection:
            row = {"key": key, "claimed_until_epoch_ms": until, "created_at": _now()}
            if insert_if_absent(connection, answers, row):
                return True
            taken_over = connection.execute(
                update(answers)
                .where(
                    answers.c.key == key,
                    answers.c.text.is_(None),
                    answers.c.claimed_until_epoch_ms < now_ms,
                )
                .values(claimed_until_epoch_ms=until)
            )
            return taken_over.rowcount == 1

    def _put(self, key: str, model: str, answer: StoredAnswer) -> None:
        row = {
            "key": key,
            "model": model,
            "text": answer.text,
            "sources": json.dumps([asdict(s) for s in answer.sources]),
            "citations": json.dumps([asdict(c) for c in answer.citations]),
            "usage": json.dumps(asdict(answer.usage)),
            "claimed_until_epoch_ms": None,
            "created_at": _now(),
        }
        with self._database.writing() as connection:
            upsert(connection, answers, row)

    def _release(self, key: str) -> None:
        with self._database.writing() as connection:
            connection.execute(
                delete(answers).where(answers.c.key == key, answers.c.text.is_(None))
            )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _now_ms() -> int:
    return int(time.time() * 1000)
