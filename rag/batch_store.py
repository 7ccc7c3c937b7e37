"""Batches of questions and their answers, stored durably in SQLite under the state directory.

A batch row follows the API's processing status (in_progress, canceling, ended) and says
whether its calls are in the ledger yet. Each question keeps the prompt facts its answer
needs later (the chunks in search_result order, the layers' prefix lengths), so results can
be shaped and recorded by whichever process collects them, also after a restart.

The ledger is recorded under this database's write lock (`recording`): a second process
waits, then finds the batch recorded; a process that dies mid-way leaves it unrecorded.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rag.errors import NotFound
from rag.types import CacheLayer, Chunk, Citation, Usage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    upstream_id TEXT NOT NULL,
    status TEXT NOT NULL,
    counts TEXT NOT NULL,
    created_at TEXT NOT NULL,
    ended_at TEXT,
    recorded INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS batch_questions (
    batch_id TEXT NOT NULL REFERENCES batches(id),
    position INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    question TEXT NOT NULL,
    model TEXT NOT NULL,
    chunks TEXT NOT NULL,
    layer_prefix_tokens TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    status TEXT NOT NULL,
    answer TEXT,
    citations TEXT NOT NULL DEFAULT '[]',
    usage TEXT NOT NULL DEFAULT '{}',
    message_id TEXT,
    stop_reason TEXT,
    cache_miss_reason TEXT,
    cache_missed_input_tokens INTEGER,
    error TEXT,
    PRIMARY KEY (batch_id, position)
);
CREATE INDEX IF NOT EXISTS ix_batches_unrecorded ON batches (recorded);
"""
# How long a process waits for another one's ledger recording to finish.
_LOCK_WAIT_SECONDS = 60


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


class BatchStore:
    """Batches in SQLite; callers run these methods off the event loop."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=_LOCK_WAIT_SECONDS
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, home: Path) -> BatchStore:
        """The batch store under the state directory."""
        return cls(home / "batches.sqlite3")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def insert(self, batch: StoredBatch, questions: Sequence[StoredQuestion]) -> None:
        """Store a batch just submitted, with its questions."""
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO batches (id, upstream_id, status, counts, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    batch.batch_id,
                    batch.upstream_id,
                    batch.status,
                    json.dumps(batch.counts),
                    batch.created_at.isoformat(),
                ),
            )
            self._db.executemany(
                "INSERT INTO batch_questions (batch_id, position, custom_id, question, model, "
                "chunks, layer_prefix_tokens, prompt_tokens, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        batch.batch_id,
                        q.position,
                        q.custom_id,
                        q.question,
                        q.model,
                        json.dumps([asdict(c) for c in q.chunks]),
                        json.dumps({str(k): v for k, v in q.layer_prefix_tokens.items()}),
                        q.prompt_tokens,
                        q.status,
                    )
                    for q in questions
                ],
            )

    def get(self, batch_id: str) -> StoredBatch:
        """The batch by Strata's id; NotFound if there is none."""
        with self._lock:
            row = self._db.execute(_SELECT_BATCH + " WHERE b.id = ?", (batch_id,)).fetchone()
        if row is None:
            raise NotFound(f"no batch {batch_id!r}")
        return _batch(row)

    def unrecorded(self) -> list[StoredBatch]:
        """Batches whose calls are not in the ledger yet, oldest first."""
        with self._lock:
            rows = self._db.execute(
                _SELECT_BATCH + " WHERE b.recorded = 0 ORDER BY b.created_at"
            ).fetchall()
        return [_batch(row) for row in rows]

    def questions(self, batch_id: str) -> list[StoredQuestion]:
        """The batch's questions in the order they were asked."""
        with self._lock:
            rows = self._db.execute(
                "SELECT position, custom_id, question, model, chunks, layer_prefix_tokens, "
                "prompt_tokens, status, answer, citations, usage, message_id, stop_reason, "
                "cache_miss_reason, cache_missed_input_tokens, error FROM batch_questions "
                "WHERE batch_id = ? "
                "ORDER BY position",
                (batch_id,),
            ).fetchall()
        return [_question(row) for row in rows]

    def update_status(self, batch_id: str, status: str, counts: dict[str, int]) -> None:
        """The upstream status of a batch still processing; save_results() ends it."""
        if status == "ended":
            raise ValueError("a batch is marked ended only with its results")
        with self._lock:
            self._db.execute(
                "UPDATE batches SET status = ?, counts = ? WHERE id = ? AND status != 'ended'",
                (status, json.dumps(counts), batch_id),
            )

    def save_results(
        self,
        batch_id: str,
        counts: dict[str, int],
        ended_at: datetime,
        answered: Sequence[StoredQuestion],
    ) -> None:
        """An ended batch's results, all in one transaction (a repeat changes nothing)."""
        with self._lock, self._transaction():
            done = self._db.execute(
                "UPDATE batches SET status = 'ended', counts = ?, ended_at = ? "
                "WHERE id = ? AND status != 'ended'",
                (json.dumps(counts), ended_at.isoformat(), batch_id),
            )
            if done.rowcount == 0:
                return
            self._db.executemany(
                "UPDATE batch_questions SET status = ?, answer = ?, citations = ?, usage = ?, "
                "message_id = ?, stop_reason = ?, cache_miss_reason = ?, "
                "cache_missed_input_tokens = ?, error = ? WHERE batch_id = ? AND custom_id = ?",
                [
                    (
                        q.status,
                        q.answer,
                        json.dumps([asdict(c) for c in q.citations]),
                        json.dumps(asdict(q.usage)),
                        q.message_id,
                        q.stop_reason,
                        q.cache_miss_reason,
                        q.cache_missed_input_tokens,
                        q.error,
                        batch_id,
                        q.custom_id,
                    )
                    for q in answered
                ],
            )

    @contextmanager
    def recording(self, batch_id: str) -> Iterator[bool]:
        """Hold the write lock while the ledger is written; yields False if already recorded.

        The batch is marked recorded when the block ends without an error.
        """
        with self._lock, self._transaction():
            row = self._db.execute(
                "SELECT recorded, status FROM batches WHERE id = ?", (batch_id,)
            ).fetchone()
            pending = row is not None and row[0] == 0 and row[1] == "ended"
            yield pending
            if pending:
                self._db.execute("UPDATE batches SET recorded = 1 WHERE id = ?", (batch_id,))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so two processes never interleave.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


_SELECT_BATCH = (
    "SELECT b.id, b.upstream_id, b.status, b.counts, b.created_at, b.ended_at, b.recorded, "
    "(SELECT COUNT(*) FROM batch_questions q WHERE q.batch_id = b.id) FROM batches b"
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
