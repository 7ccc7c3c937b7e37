"""Batches of questions and their answers, in the shared database.

A batch row follows the API's processing status (in_progress, canceling, ended) and says
whether its calls are in the ledger yet. Each question keeps the prompt facts its answer
needs later (the chunks in search_result order, the layers' prefix lengths), so results can
be shaped and recorded by whichever process collects them, also after a restart.

A batch's ledger rows are written by one process at a time (`recording`): it claims the
batch for a while, writes, then marks it recorded; another process waits for the claim to end
and finds the batch recorded. One that dies mid-way leaves it unrecorded, and its claim runs
out; the next recorder skips the rows already in the ledger.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from rag.errors import NotFound
from rag.storage.database import Database
from rag.storage.tables import batch_questions, batches
from rag.types import CacheLayer, Chunk, Citation, Usage

# How long a process may take to record a batch before another one takes over.
_RECORDING_SECONDS = 60
_RECORDING_POLL_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class StoredQuestion:
    """One question of a batch: what was sent and, once the batch ended, what came back."""

    position: int
    custom_id: str
    question: str
    model: str
    chunks: tuple[Chunk, ...]
    # The prompt builder's estimates: each cached layer's prefix, and the whole prompt.
    layer_prefix_tokens: dict[CacheLayer, int]
    prompt_tokens: int
    status: str = "processing"
    answer: str | None = None
    citations: tuple[Citation, ...] = ()
    usage: Usage = field(default_factory=Usage)
    message_id: str | None = None
    stop_reason: str | None = None
    cache_miss_reason: str | None = None
    cache_missed_input_tokens: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """A batch as stored: its upstream id, status, request counts and ledger state."""

    batch_id: str
    upstream_id: str
    status: str
    counts: dict[str, int]
    created_at: datetime
    ended_at: datetime | None
    recorded: bool
    question_count: int
    owner_key: str | None = None
    """The id of the API key that submitted the batch (None: from before owners were kept)."""


class BatchStore:
    """Batches in the database; callers run these methods off the event loop."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def insert(self, batch: StoredBatch, questions: Sequence[StoredQuestion]) -> None:
        """Store a batch just submitted, with its questions."""
        with self._database.writing() as connection:
            connection.execute(
                insert(batches).values(
                    id=batch.batch_id,
                    upstream_id=batch.upstream_id,
                    status=batch.status,
                    counts=json.dumps(batch.counts),
                    created_at=batch.created_at.isoformat(),
                    recorded=False,
                    owner_key=batch.owner_key,
                )
            )
            connection.execute(
                insert(batch_questions),
                [
                    {
                        "batch_id": batch.batch_id,
                        "position": q.position,
                        "custom_id": q.custom_id,
                        "question": q.question,
                        "model": q.model,
                        "chunks": json.dumps([asdict(c) for c in q.chunks]),
                        "layer_prefix_tokens": json.dumps(
                            {str(k): v for k, v in q.layer_prefix_tokens.items()}
                        ),
                        "prompt_tokens": q.prompt_tokens,
                        "status": q.status,
                        "citations": "[]",
                        "usage": "{}",
                    }
                    for q in questions
                ],
            )

    def get(self, batch_id: str) -> StoredBatch:
        """The batch by Strata's id; NotFound if there is none."""
        with self._database.reading() as connection:
            row = connection.execute(_SELECT_BATCH.where(batches.c.id == batch_id)).first()
        if row is None:
            raise NotFound(f"no batch {batch_id!r}")
        return _batch(row)

    def questions_in_flight(self, owner_key: str) -> int:
        """How many questions owner_key has in batches that have not ended."""
        with self._database.reading() as connection:
            count = connection.execute(
                select(func.count())
                .select_from(batch_questions.join(batches))
                .where(batches.c.owner_key == owner_key, batches.c.status != "ended")
            ).scalar_one()
        return int(count)

    def unrecorded(self) -> list[StoredBatch]:
        """Batches whose calls are not in the ledger yet, oldest first."""
        with self._database.reading() as connection:
            rows = connection.execute(
                _SELECT_BATCH.where(batches.c.recorded.is_(False)).order_by(batches.c.created_at)
            ).all()
        return [_batch(row) for row in rows]

    def questions(self, batch_id: str) -> list[StoredQuestion]:
        """The batch's questions in the order they were asked."""
        q = batch_questions.c
        with self._database.reading() as connection:
            rows = connection.execute(
                select(
                    q.position,
                    q.custom_id,
                    q.question,
                    q.model,
                    q.chunks,
                    q.layer_prefix_tokens,
                    q.prompt_tokens,
                    q.status,
                    q.answer,
                    q.citations,
                    q.usage,
                    q.message_id,
                    q.stop_reason,
                    q.cache_miss_reason,
                    q.cache_missed_input_tokens,
                    q.error,
                )
                .where(q.batch_id == batch_id)
                .order_by(q.position)
            ).all()
        return [_question(row) for row in rows]

    def update_status(self, batch_id: str, status: str, counts: dict[str, int]) -> None:
        """The upstream status of a batch still processing; save_results() ends it."""
        if status == "ended":
            raise ValueError("a batch is marked ended only with its results")
        with self._database.writing() as connection:
            connection.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.status != "ended")
                .values(status=status, counts=json.dumps(counts))
            )

    def save_results(
        self,
        batch_id: str,
        counts: dict[str, int],
        ended_at: datetime,
        answered: Sequence[StoredQuestion],
    ) -> None:
        """An ended batch's results, all in one transaction (a repeat changes nothing)."""
        q = batch_questions.c
        with self._database.writing() as connection:
            ending = connection.execute(
                select(batches.c.id)
                .where(batches.c.id == batch_id, batches.c.status != "ended")
                .with_for_update()
            ).first()
            if ending is None:
                return
            connection.execute(
                update(batches)
                .where(batches.c.id == batch_id)
                .values(status="ended", counts=json.dumps(counts), ended_at=ended_at.isoformat())
            )
            for question in answered:
                connection.execute(
                    update(batch_questions)
                    .where(q.batch_id == batch_id, q.custom_id == question.custom_id)
                    .values(
                        status=question.status,
                        answer=question.answer,
                        citations=json.dumps([asdict(c) for c in question.citations]),
                        usage=json.dumps(asdict(question.usage)),
                        message_id=question.message_id,
                        stop_reason=question.stop_reason,
                        cache_miss_reason=question.cache_miss_reason,
                        cache_missed_input_tokens=question.cache_missed_input_tokens,
                        error=question.error,
                    )
                )

    @contextmanager
    def recording(self, batch_id: str) -> Iterator[bool]:
        """Hold the batch's recording claim while the ledger is written.

        Yields False if the batch is recorded already (or has not ended); it is marked recorded
        when the block ends without an error. The claim is a row, not a held transaction, so
        the ledger's own writes never wait for it.
        """
        while True:
            claimed, pending = self._claim_recording(batch_id)
            if claimed or not pending:
                break
            time.sleep(_RECORDING_POLL_SECONDS)
        if not pending:
            yield False
            return
        try:
            yield True
        except BaseException:
            self._end_recording(batch_id, recorded=False)
            raise
        self._end_recording(batch_id, recorded=True)

    def _claim_recording(self, batch_id: str) -> tuple[bool, bool]:
        """(claimed, still pending) for the batch."""
        now_ms = int(time.time() * 1000)
        b = batches.c
        with self._database.writing() as connection:
            row = connection.execute(
                select(b.recorded, b.status, b.recording_until_epoch_ms)
                .where(b.id == batch_id)
                .with_for_update()
            ).first()
            if row is None or row.recorded or row.status != "ended":
                return False, False
            if row.recording_until_epoch_ms is not None and row.recording_until_epoch_ms > now_ms:
                return False, True
            connection.execute(
                update(batches)
                .where(b.id == batch_id)
                .values(recording_until_epoch_ms=now_ms + _RECORDING_SECONDS * 1000)
            )
            return True, True

    def _end_recording(self, batch_id: str, recorded: bool) -> None:
        with self._database.writing() as connection:
            connection.execute(
                update(batches)
                .where(batches.c.id == batch_id)
                .values(recorded=recorded, recording_until_epoch_ms=None)
            )


_SELECT_BATCH = select(
    batches.c.id,
    batches.c.upstream_id,
    batches.c.status,
    batches.c.counts,
    batches.c.created_at,
    batches.c.ended_at,
    batches.c.recorded,
    select(func.count())
    .where(batch_questions.c.batch_id == batches.c.id)
    .correlate(batches)
    .scalar_subquery(),
    batches.c.owner_key,
)


def _batch(row: Any) -> StoredBatch:
    return StoredBatch(
        batch_id=row[0],
        upstream_id=row[1],
        status=row[2],
        counts=json.loads(row[3]),
        created_at=datetime.fromisoformat(row[4]),
        ended_at=datetime.fromisoformat(row[5]) if row[5] else None,
        recorded=bool(row[6]),
        question_count=row[7],
        owner_key=row[8],
    )


def _question(row: Any) -> StoredQuestion:
    chunks = tuple(
        Chunk(**{**item, "heading_path": tuple(item["heading_path"])})
        for item in json.loads(row[4])
    )
    return StoredQuestion(
        position=row[0],
        custom_id=row[1],
        question=row[2],
        model=row[3],
        chunks=chunks,
        layer_prefix_tokens={CacheLayer(k): v for k, v in json.loads(row[5]).items()},
        prompt_tokens=row[6],
        status=row[7],
        answer=row[8],
        citations=tuple(Citation(**item) for item in json.loads(row[9])),
        usage=Usage(**json.loads(row[10])),
        message_id=row[11],
        stop_reason=row[12],
        cache_miss_reason=row[13],
        cache_missed_input_tokens=row[14],
        error=row[15],
    )
