"""The answer cache's store: whole answers by key, in the shared database.

The same question reaching several replicas at once pays Claude once: the first to claim the
key (an insert-if-absent of a row without text) asks Claude; the others wait for its answer
and replay it. A claim lasts claim_seconds, so a replica that dies while answering holds no
one up for longer than that: the next asker takes the expired claim over.

The cache holds at most max_entries answers: each hit notes when it was used, and storing one
more evicts the least recently used.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, func, select, update

from rag.answer_cache import StoredAnswer
from rag.storage.database import Database, insert_if_absent, upsert
from rag.storage.serialised import answer_columns, load_answer
from rag.storage.tables import answers

_FIRST_POLL_SECONDS = 0.02
_MAX_POLL_SECONDS = 0.25


class AnswerCache:
    """Answers by key; every call runs off the event loop."""

    def __init__(
        self, database: Database, claim_seconds: float = 300.0, max_entries: int = 10_000
    ) -> None:
        self._database = database
        self._claim_ms = int(claim_seconds * 1000)
        self._max_entries = max_entries

    async def get(self, key: str) -> StoredAnswer | None:
        """The stored answer for key, if any (never waits for a claim, nor counts as a use)."""
        return await asyncio.to_thread(self._get, key, False)

    async def get_or_claim(self, key: str) -> StoredAnswer | None:
        """The stored answer for key (a use of it); None once the caller holds its claim.

        Whoever gets None must put() the answer or release() the key. While another request
        holds a live claim, this waits for its answer.
        """
        poll = _FIRST_POLL_SECONDS
        while True:
            stored, claimed = await asyncio.to_thread(self._get_or_claim, key)
            if stored is not None or claimed:
                return stored
            await asyncio.sleep(poll)
            poll = min(poll * 2, _MAX_POLL_SECONDS)

    async def put(self, key: str, model: str, answer: StoredAnswer) -> None:
        """Store answer under key (replacing any older one, ending any claim).

        Past max_entries, the least recently used answers go.
        """
        await asyncio.to_thread(self._put, key, model, answer)

    async def release(self, key: str) -> None:
        """Give up a claim without an answer, so the next asker calls Claude itself."""
        await asyncio.to_thread(self._release, key)

    def _get(self, key: str, served: bool) -> StoredAnswer | None:
        c = answers.c
        with self._database.reading() as connection:
            row = connection.execute(
                select(c.text, c.sources, c.citations, c.usage, c.chunks).where(
                    # An answer stored before answers kept their documents would start a
                    # conversation without them: it counts as absent (the next put replaces it).
                    c.key == key,
                    c.text.is_not(None),
                    c.chunks.is_not(None),
                )
            ).first()
        if row is None:
            return None
        if served:
            with self._database.writing() as connection:
                connection.execute(
                    update(answers).where(c.key == key).values(used_epoch_ms=_now_ms())
                )
        return load_answer(row._mapping)

    def _get_or_claim(self, key: str) -> tuple[StoredAnswer | None, bool]:
        # One trip to a worker thread for both steps: the answer, else whether it is claimed.
        stored = self._get(key, True)
        if stored is not None:
            return stored, False
        return None, self._claim(key)

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
            **answer_columns(answer),
            "claimed_until_epoch_ms": None,
            "used_epoch_ms": _now_ms(),
            "created_at": _now(),
        }
        with self._database.writing() as connection:
            upsert(connection, answers, row)
            self._evict(connection)

    def _evict(self, connection: Connection) -> None:
        c = answers.c
        stored = c.text.is_not(None)
        count = connection.execute(select(func.count()).where(stored)).scalar_one()
        if count <= self._max_entries:
            return
        oldest = (
            select(c.key)
            .where(stored)
            .order_by(c.used_epoch_ms.asc().nulls_first(), c.key)
            .limit(count - self._max_entries)
            .scalar_subquery()
        )
        connection.execute(delete(answers).where(c.key.in_(oldest)))

    def _release(self, key: str) -> None:
        with self._database.writing() as connection:
            connection.execute(
                delete(answers).where(answers.c.key == key, answers.c.text.is_(None))
            )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _now_ms() -> int:
    return int(time.time() * 1000)
