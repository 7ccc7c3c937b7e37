"""The document registry and the embedding cache, in the shared database.

The registry is the source of truth for what is indexed: a document counts as part of the corpus
only once its status is `done`, which is written after all its chunks are in the store. Chunks
that must leave the store (of a replaced, deleted or failed document) are queued in `purges` in
the same transaction, so a process killed between the two steps leaves a note to finish them.

Every change to the set of done documents takes the corpus version's row lock first, so two
replicas finishing documents at once each see the other's work when they recompute it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import DBAPIError

from rag.errors import NotFound
from rag.storage.database import (
    Database,
    database_url,
    insert_all_if_absent,
    insert_if_absent,
    upsert,
)
from rag.storage.tables import document_purges, documents, embeddings, shared_values

DocumentStatus = Literal["queued", "running", "done", "failed"]

# SQLite allows 32766 bound parameters; stay far below it.
_VERSION_KEY = "corpus_version"
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


def indexed_chunk_counts(database: Database, document_ids: Iterable[str]) -> dict[str, int]:
    """The chunk counts of those of document_ids that are fully indexed.

    Reads only, on a database maybe not migrated (Database.open_unmigrated): an unchanged
    re-ingest answers from this before anything else is opened. A database without the
    documents table yet has nothing indexed.
    """
    wanted = list(dict.fromkeys(document_ids))
    found: dict[str, int] = {}
    try:
        _read_chunk_counts(database, wanted, found)
    except DBAPIError:
        return {}
    return found


def _read_chunk_counts(database: Database, wanted: list[str], found: dict[str, int]) -> None:
    with database.reading() as connection:
        for start in range(0, len(wanted), _LOOKUP_BATCH):
            rows = connection.execute(
                select(documents.c.document_id, documents.c.chunk_count).where(
                    documents.c.document_id.in_(wanted[start : start + _LOOKUP_BATCH]),
                    documents.c.status == "done",
                )
            )
            found.update((document_id, count) for document_id, count in rows)


class DocumentRegistry:
    """Durable record of ingested documents, plus the embedding cache keyed by chunk hash."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._owned: Database | None = None
        with database.writing() as connection:
            self._lock_version(connection)

    @classmethod
    def open(cls, home: Path) -> DocumentRegistry:
        """The registry in the SQLite database of a Strata home, on its own connections."""
        home.mkdir(parents=True, exist_ok=True)
        database = Database.open(database_url(home, None))
        registry = cls(database)
        registry._owned = database
        return registry

    def close(self) -> None:
        """Release the database if this registry opened it."""
        if self._owned is not None:
            self._owned.close()

    def _select(self, *where: object, order: bool = False) -> list[DocumentRecord]:
        query = select(documents).where(*where)  # type: ignore[arg-type]
        if order:
            query = query.order_by(documents.c.source, documents.c.document_id)
        with self._database.reading() as connection:
            return [DocumentRecord(*row) for row in connection.execute(query)]

    def get(self, document_id: str) -> DocumentRecord | None:
        """The record of document_id, if any."""
        rows = self._select(documents.c.document_id == document_id)
        return rows[0] if rows else None

    def require(self, document_id: str) -> DocumentRecord:
        """The record of document_id; NotFound if there is none."""
        record = self.get(document_id)
        if record is None:
            raise NotFound(f"no document {document_id!r}")
        return record

    def documents(self) -> list[DocumentRecord]:
        """Every document, by source then id."""
        return self._select(order=True)

    def unfinished(self, idle_seconds: float = 0) -> list[str]:
        """Documents left queued or running and untouched for idle_seconds: abandoned."""
        before = (datetime.now(UTC) - timedelta(seconds=idle_seconds)).isoformat(
            timespec="milliseconds"
        )
        records = self._select(
            documents.c.status.in_(("queued", "running")), documents.c.updated_at <= before
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
        with self._database.writing() as connection:
            self._lock_version(connection)
            existing = connection.execute(
                select(documents.c.created_at).where(documents.c.document_id == document_id)
            ).scalar()
            upsert(
                connection,
                documents,
                {
                    "document_id": document_id,
                    "source": source,
                    "title": title,
                    "media_type": media_type,
                    "content_hash": content_hash,
                    "size_bytes": size_bytes,
                    "status": "running",
                    "chunk_count": 0,
                    "error": None,
                    "created_at": existing or now,
                    "updated_at": now,
                },
            )
            self._refresh_version(connection)

    def finish(self, document_id: str, chunk_count: int) -> list[str]:
        """Mark document_id done and retire older documents of its source, in one step.

        Returns the retired document ids; their chunks are queued for purging.
        """
        c = documents.c
        with self._database.writing() as connection:
            self._lock_version(connection)
            source = connection.execute(
                select(c.source).where(c.document_id == document_id)
            ).scalar()
            if source is None:
                raise NotFound(f"no document {document_id!r}")
            retired = list(
                connection.execute(
                    select(c.document_id).where(c.source == source, c.document_id != document_id)
                ).scalars()
            )
            for old in retired:
                insert_if_absent(connection, document_purges, {"document_id": old})
            if retired:
                connection.execute(delete(documents).where(c.document_id.in_(retired)))
            connection.execute(
                update(documents)
                .where(c.document_id == document_id)
                .values(status="done", chunk_count=chunk_count, error=None, updated_at=_now())
            )
            self._refresh_version(connection)
        return retired

    def fail(self, document_id: str, error: str) -> None:
        """Mark document_id failed and queue its chunks (if any got written) for purging."""
        with self._database.writing() as connection:
            self._lock_version(connection)
            connection.execute(
                update(documents)
                .where(documents.c.document_id == document_id)
                .values(status="failed", chunk_count=0, error=error, updated_at=_now())
            )
            insert_if_absent(connection, document_purges, {"document_id": document_id})
            self._refresh_version(connection)

    def remove(self, document_id: str) -> DocumentRecord:
        """Forget document_id and queue its chunks for purging; NotFound if unknown."""
        record = self.require(document_id)
        with self._database.writing() as connection:
            self._lock_version(connection)
            connection.execute(delete(documents).where(documents.c.document_id == document_id))
            insert_if_absent(connection, document_purges, {"document_id": document_id})
            self._refresh_version(connection)
        return record

    def pending_purges(self) -> list[str]:
        """Documents whose chunks must still be removed from the store."""
        with self._database.reading() as connection:
            return list(connection.execute(select(document_purges.c.document_id)).scalars())

    def purged(self, document_id: str) -> None:
        """Note that the store holds no chunk of document_id any more."""
        with self._database.writing() as connection:
            connection.execute(
                delete(document_purges).where(document_purges.c.document_id == document_id)
            )

    def outside_corpus(self) -> set[str]:
        """Documents whose chunks may be in the store but are not part of the corpus.

        They are being indexed, failed, or retired and waiting for their chunks to be purged.
        """
        c = documents.c
        with self._database.reading() as connection:
            unfinished = set(
                connection.execute(select(c.document_id).where(c.status != "done")).scalars()
            )
            done = select(c.document_id).where(c.status == "done")
            purging = connection.execute(
                select(document_purges.c.document_id).where(
                    document_purges.c.document_id.not_in(done)
                )
            ).scalars()
            return unfinished | set(purging)

    def corpus_version(self) -> str:
        """Names the set of indexed documents: new whenever that set changes, never reused."""
        with self._database.reading() as connection:
            value = connection.execute(
                select(shared_values.c.value).where(shared_values.c.key == _VERSION_KEY)
            ).scalar_one()
        return str(value)

    @staticmethod
    def _lock_version(connection: Connection) -> None:
        # The row lock orders replicas changing the corpus (SQLite's write lock already does).
        insert_if_absent(connection, shared_values, {"key": _VERSION_KEY, "value": ""})
        connection.execute(
            select(shared_values.c.value)
            .where(shared_values.c.key == _VERSION_KEY)
            .with_for_update()
        )
        if not connection.execute(
            select(shared_values.c.value).where(shared_values.c.key == _VERSION_KEY)
        ).scalar():
            DocumentRegistry._refresh_version(connection)

    @staticmethod
    def _refresh_version(connection: Connection) -> None:
        # A hash of the done documents' ids (themselves content hashes): re-ingesting an
        # unchanged corpus keeps the version, any add, replace or delete changes it. The count
        # of changes after it means a version never comes back: a document added and deleted
        # again while an answer was being made leaves that answer under a version nobody asks.
        ids = connection.execute(
            select(documents.c.document_id)
            .where(documents.c.status == "done")
            .order_by(documents.c.document_id)
        ).scalars()
        digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
        current = connection.execute(
            select(shared_values.c.value).where(shared_values.c.key == _VERSION_KEY)
        ).scalar_one()
        digest_before, _, changes = current.removeprefix("c-").partition("-")
        if digest_before == digest:
            return
        connection.execute(
            update(shared_values)
            .where(shared_values.c.key == _VERSION_KEY)
            .values(value=f"c-{digest}-{int(changes or 0) + 1}")
        )

    def cached_vectors(self, keys: Iterable[str]) -> dict[str, npt.NDArray[np.float32]]:
        """The cached embeddings among keys."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, npt.NDArray[np.float32]] = {}
        with self._database.reading() as connection:
            for start in range(0, len(wanted), _LOOKUP_BATCH):
                part = wanted[start : start + _LOOKUP_BATCH]
                for key, blob in connection.execute(
                    select(embeddings.c.key, embeddings.c.vector).where(embeddings.c.key.in_(part))
                ):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def cache_vectors(self, vectors: Mapping[str, npt.NDArray[np.float32]]) -> None:
        """Remember embeddings by key."""
        rows = [
            {"key": k, "vector": np.asarray(v, dtype=np.float32).tobytes()}
            for k, v in vectors.items()
        ]
        with self._database.writing() as connection:
            insert_all_if_absent(connection, embeddings, rows)

    def cached_vector_count(self) -> int:
        """How many embeddings the cache holds."""
        with self._database.reading() as connection:
            return int(
                connection.execute(select(func.count()).select_from(embeddings)).scalar_one()
            )

    def ping(self) -> bool:
        """True when the database answers."""
        return self._database.ping()
