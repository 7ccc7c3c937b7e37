"""The document registry and the embedding cache, in SQLite under the Strata home.

The registry is the source of truth for what is indexed: a document counts as part of the corpus
only once its status is `done`, which is written after all its chunks are in the store. Chunks
that must leave the store (of a replaced, deleted or failed document) are queued in `purges` in
the same transaction, so a process killed between the two steps leaves a note to finish them.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from rag.errors import NotFound

DocumentStatus = Literal["queued", "running", "done", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    document_id  TEXT PRIMARY KEY,
    source       TEXT NOT NULL,
    title        TEXT NOT NULL,
    media_type   TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    status       TEXT NOT NULL,
    chunk_count  INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_by_source ON documents (source);
CREATE TABLE IF NOT EXISTS purges (document_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = (
    "document_id, source, title, media_type, content_hash, size_bytes, status, chunk_count,"
    " error, created_at, updated_at"
)
# SQLite allows 32766 bound parameters; stay far below it.
_LOOKUP_BATCH = 500


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """What the registry knows about one document."""

    document_id: str
    source: str
    title: str
    media_type: str
    content_hash: str
    size_bytes: int
    status: DocumentStatus
    chunk_count: int
    error: str | None
    created_at: str
    updated_at: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class DocumentRegistry:
    """Durable record of ingested documents, plus the embedding cache keyed by chunk hash."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL survives a killed process; only power loss can drop
        # the last commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._db:
            self._db.executescript(_SCHEMA)
            self._refresh_version()

    @classmethod
    def open(cls, home: Path) -> DocumentRegistry:
        """The registry of a Strata home."""
        return cls(home / "documents.sqlite3")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(self, sql: str, params: Iterable[object] = ()) -> list[DocumentRecord]:
        with self._lock:
            rows = self._db.execute(sql, tuple(params)).fetchall()
        return [DocumentRecord(*row) for row in rows]

    def get(self, document_id: str) -> DocumentRecord | None:
        """The record of document_id, if any."""
        rows = self._rows(f"SELECT {_COLUMNS} FROM documents WHERE document_id = ?", [document_id])
        return rows[0] if rows else None

    def require(self, document_id: str) -> DocumentRecord:
        """The record of document_id; NotFound if there is none."""
        record = self.get(document_id)
        if record is None:
            raise NotFound(f"no document {document_id!r}")
        return record

    def documents(self) -> list[DocumentRecord]:
        """Every document, by source then id."""
        return self._rows(f"SELECT {_COLUMNS} FROM documents ORDER BY source, document_id")

    def unfinished(self) -> list[str]:
        """Documents left queued or running: their process ended before it finished them."""
        records = self._rows(
            f"SELECT {_COLUMNS} FROM documents WHERE status IN ('queued', 'running')"
        )
        return [r.document_id for r in records]

    def start(
        self,
        document_id: str,
        *,
        source: str,
        title: str,
        media_type: str,
        content_hash: str,
        size_bytes: int,
    ) -> None:
        """Record that document_id is being indexed (it is not part of the corpus yet)."""
        now = _now()
        with self._lock, self._db:
            self._db.execute(
                f"INSERT INTO documents ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 'running', 0, NULL,"
                " ?, ?) ON CONFLICT (document_id) DO UPDATE SET source = excluded.source,"
                " title = excluded.title, media_type = excluded.media_type, status = 'running',"
                " chunk_count = 0, error = NULL, updated_at = excluded.updated_at",
                (document_id, source, title, media_type, content_hash, size_bytes, now, now),
            )
            self._refresh_version()

    def finish(self, document_id: str, chunk_count: int) -> list[str]:
        """Mark document_id done and retire older documents of its source, in one step.

        Returns the retired document ids; their chunks are queued for purging.
        """
        with self._lock, self._db:
            row = self._db.execute(
                "SELECT source FROM documents WHERE document_id = ?", (document_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no document {document_id!r}")
            retired = [
                r[0]
                for r in self._db.execute(
                    "SELECT document_id FROM documents WHERE source = ? AND document_id != ?",
                    (row[0], document_id),
                )
            ]
            self._db.executemany(
                "INSERT OR IGNORE INTO purges (document_id) VALUES (?)", [(d,) for d in retired]
            )
            self._db.executemany(
                "DELETE FROM documents WHERE document_id = ?", [(d,) for d in retired]
            )
            self._db.execute(
                "UPDATE documents SET status = 'done', chunk_count = ?, error = NULL,"
                " updated_at = ? WHERE document_id = ?",
                (chunk_count, _now(), document_id),
            )
            self._refresh_version()
        return retired

    def fail(self, document_id: str, error: str) -> None:
        """Mark document_id failed and queue its chunks (if any got written) for purging."""
        with self._lock, self._db:
            self._db.execute(
                "UPDATE documents SET status = 'failed', chunk_count = 0, error = ?,"
                " updated_at = ? WHERE document_id = ?",
                (error, _now(), document_id),
            )
            self._db.execute(
                "INSERT OR IGNORE INTO purges (document_id) VALUES (?)", (document_id,)
            )
            self._refresh_version()

    def remove(self, document_id: str) -> DocumentRecord:
        """Forget document_id and queue its chunks for purging; NotFound if unknown."""
        record = self.require(document_id)
        with self._lock, self._db:
            self._db.execute("DELETE FROM documents WHERE document_id = ?", (document_id,))
            self._db.execute(
                "INSERT OR IGNORE INTO purges (document_id) VALUES (?)", (document_id,)
            )
            self._refresh_version()
        return record

    def pending_purges(self) -> list[str]:
        """Documents whose chunks must still be removed from the store."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT document_id FROM purges")]

    def purged(self, document_id: str) -> None:
        """Note that the store holds no chunk of document_id any more."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM purges WHERE document_id = ?", (document_id,))

    def corpus_version(self) -> str:
        """Names the set of indexed documents; it changes whenever that set changes."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'corpus_version'").fetchone()
        return str(row[0])

    def _refresh_version(self) -> None:
        # A hash of the done documents' ids (themselves content hashes): re-ingesting an
        # unchanged corpus keeps the version, any add, replace or delete changes it.
        ids = self._db.execute(
            "SELECT document_id FROM documents WHERE status = 'done' ORDER BY document_id"
        ).fetchall()
        digest = hashlib.sha256("\n".join(r[0] for r in ids).encode()).hexdigest()[:16]
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('corpus_version', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (f"c-{digest}",),
        )

    def cached_vectors(self, keys: Iterable[str]) -> dict[str, npt.NDArray[np.float32]]:
        """The cached embeddings among keys."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, npt.NDArray[np.float32]] = {}
        with self._lock:
            for start in range(0, len(wanted), _LOOKUP_BATCH):
                part = wanted[start : start + _LOOKUP_BATCH]
                marks = ",".join("?" * len(part))
                for key, blob in self._db.execute(
                    f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", part
                ):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def cache_vectors(self, vectors: Mapping[str, npt.NDArray[np.float32]]) -> None:
        """Remember embeddings by key."""
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO embeddings (key, vector) VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in vectors.items()],
            )

    def cached_vector_count(self) -> int:
        """How many embeddings the cache holds."""
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM embeddings").fetchone()
        return int(row[0])

    def ping(self) -> bool:
        """True when the database answers."""
        with self._lock:
            row = self._db.execute("SELECT 1").fetchone()
        return bool(row == (1,))
