"""Chunks and their vectors in Chroma. The only module that imports chromadb.

Chroma is not process-safe: one process owns a PersistentClient path. Scaled out, every replica
talks to one Chroma server through HttpClient instead.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
import numpy as np
import numpy.typing as npt
from chromadb.api import ClientAPI
from chromadb.api.client import Client
from chromadb.config import Settings as ChromaSettings

from rag.errors import InvalidInput
from rag.types import EMBEDDING_TEXT_VERSION, Chunk, RetrievedChunk

log = logging.getLogger("strata.store")

# Every collection of chunk vectors is named `chunks` or `chunks-...`: `chunks` and
# `chunks-int8` hold vectors of the first form of embedded text.
_PREFIX = "chunks"


def collection_for(vector_space: str) -> str:
    """The collection holding vectors of one embedder over the current form of embedded text.

    `chunks-v2`, or `chunks-v2-int8` and so on. Vectors of two embedders, or of two forms of
    Chunk.embedding_text, never share a collection, so switching either cannot mix them.
    """
    name = f"{_PREFIX}-v{EMBEDDING_TEXT_VERSION}"
    return name if not vector_space else f"{name}-{vector_space}"


_COLLECTION = collection_for("")


def text_version_of(collection: str) -> int:
    """The form of embedded text a collection's vectors were made from (1 before `-vN`)."""
    found = re.fullmatch(rf"{_PREFIX}-v(\d+)(?:-.+)?", collection)
    return int(found.group(1)) if found else 1


# Chroma caps one write; its client reports the cap, this is the floor we batch under.
_WRITE_BATCH = 1000


def open_client(home: Path, chroma_url: str | None) -> ClientAPI:
    """A Chroma client: the server at chroma_url, else a local store under home/chroma."""
    settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlsplit(chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise InvalidInput(f"chroma_url must be http(s)://host[:port], not {chroma_url!r}")
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=settings,
        )
    path = home / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def _metadata(chunk: Chunk) -> dict[str, str | int]:
    meta: dict[str, str | int] = {
        "document_id": chunk.document_id,
        "source": chunk.source,
        "title": chunk.title,
        "heading_path": json.dumps(list(chunk.heading_path), ensure_ascii=False),
        "position": chunk.position,
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
    }
    if chunk.page is not None:
        meta["page"] = chunk.page
    return meta


def _chunks(found: Any) -> list[Chunk]:
    """The chunks of a Chroma get() result, in its order."""
    return [
        _chunk(i, t, m)
        for i, t, m in zip(
            found["ids"], found["documents"] or [], found["metadatas"] or [], strict=True
        )
    ]


def _chunk(chunk_id: str, text: str, meta: Mapping[str, Any]) -> Chunk:
    page = meta.get("page")
    return Chunk(
        chunk_id=chunk_id,
        document_id=str(meta["document_id"]),
        source=str(meta["source"]),
        title=str(meta["title"]),
        text=text,
        heading_path=tuple(json.loads(str(meta["heading_path"]))),
        position=int(meta["position"]),
        char_start=int(meta["char_start"]),
        char_end=int(meta["char_end"]),
        page=int(page) if page is not None else None,
    )


class ChunkStore:
    """The chunk collection: write chunks with vectors, find the nearest, delete by document."""

    def __init__(self, client: ClientAPI, collection: str = _COLLECTION) -> None:
        self._client = client
        # embedding_function=None: Chroma's default function downloads a model at run time.
        self._collection = client.get_or_create_collection(
            collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    @classmethod
    def open(
        cls, home: Path, chroma_url: str | None = None, collection: str = _COLLECTION
    ) -> ChunkStore:
        """The store for a Strata home, or on the Chroma server at chroma_url."""
        return cls(open_client(home, chroma_url), collection)

    def others(self) -> list[ChunkStore]:
        """The stores of the other collections of chunk vectors on the same Chroma, if any.

        Those of other embedders, and of earlier forms of embedded text.
        """
        mine = self._collection.name
        names = [c.name for c in self._client.list_collections()]
        return [
            ChunkStore(self._client, name)
            for name in sorted(names)
            if name != mine and (name == _PREFIX or name.startswith(f"{_PREFIX}-"))
        ]

    @property
    def name(self) -> str:
        """The collection's name."""
        return self._collection.name

    @property
    def obsolete(self) -> bool:
        """True for vectors of an earlier form of embedded text, which no search reads."""
        return text_version_of(self.name) < EMBEDDING_TEXT_VERSION

    def drop(self) -> None:
        """Delete this collection and every chunk in it."""
        self._client.delete_collection(self.name)

    def document_ids(self) -> set[str]:
        """The documents that have chunks here."""
        found = self._collection.get(include=["metadatas"])
        return {str(m["document_id"]) for m in found["metadatas"] or []}

    def upsert(self, chunks: Sequence[Chunk], vectors: npt.NDArray[np.float32]) -> None:
        """Write chunks with their vectors; a chunk id already present is overwritten."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        for start in range(0, len(chunks), _WRITE_BATCH):
            part = chunks[start : start + _WRITE_BATCH]
            self._collection.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=vectors[start : start + _WRITE_BATCH],
                documents=[c.text for c in part],
                metadatas=[_metadata(c) for c in part],
            )

    def nearest(
        self, vector: npt.NDArray[np.float32], k: int, excluded: Collection[str] = ()
    ) -> list[RetrievedChunk]:
        """The k chunks closest to vector, best first; score is the cosine similarity.

        Chunks of the excluded documents are never among them.
        """
        found = self._query(vector, k, excluded, ["documents", "metadatas", "distances"])
        if found is None:
            return []
        ids = found["ids"][0]
        texts = (found["documents"] or [[]])[0]
        metas = (found["metadatas"] or [[]])[0]
        distances = (found["distances"] or [[]])[0]
        return [
            RetrievedChunk(chunk=_chunk(i, t, m), score=1.0 - float(d))
            for i, t, m, d in zip(ids, texts, metas, distances, strict=True)
        ]

    def nearest_ids(
        self, vector: npt.NDArray[np.float32], k: int, excluded: Collection[str] = ()
    ) -> list[tuple[str, float]]:
        """nearest() without the chunks: their ids, each with its cosine similarity.

        For a caller that holds the chunks already: Chroma then reads no text nor metadata,
        which costs it more than the search itself.
        """
        found = self._query(vector, k, excluded, ["distances"])
        if found is None:
            return []
        distances = (found["distances"] or [[]])[0]
        return [(i, 1.0 - float(d)) for i, d in zip(found["ids"][0], distances, strict=True)]

    def chunks_by_id(self, chunk_ids: Collection[str]) -> dict[str, Chunk]:
        """The chunks of those ids that are in the store."""
        if not chunk_ids:
            return {}
        found = self._collection.get(ids=list(chunk_ids), include=["documents", "metadatas"])
        return {chunk.chunk_id: chunk for chunk in _chunks(found)}

    def _query(
        self,
        vector: npt.NDArray[np.float32],
        k: int,
        excluded: Collection[str],
        include: list[Any],
    ) -> Any:
        if k < 1:
            return None
        where: dict[str, Any] | None = None
        if excluded:
            where = {"document_id": {"$nin": sorted(excluded)}}
        # An empty collection answers with no ids: no count() beforehand, one round trip less.
        return self._collection.query(
            query_embeddings=vector.reshape(1, -1), n_results=k, where=where, include=include
        )

    def _get(self, where: dict[str, Any] | None = None) -> list[Chunk]:
        found = self._collection.get(where=where, include=["documents", "metadatas"])
        return sorted(_chunks(found), key=lambda c: (c.document_id, c.position))

    def chunks_of(self, document_id: str) -> list[Chunk]:
        """A document's chunks in reading order."""
        return self._get({"document_id": document_id})

    def all_chunks(self) -> list[Chunk]:
        """Every chunk, ordered by document and position (for a lexical index)."""
        return self._get()

    def all_chunks_with_vectors(self) -> tuple[list[Chunk], npt.NDArray[np.float32]]:
        """Every chunk as all_chunks orders them, and their vectors in the same order."""
        found = self._collection.get(include=["documents", "metadatas", "embeddings"])
        chunks = _chunks(found)
        if not chunks:
            return [], np.zeros((0, 0), dtype=np.float32)
        vectors = np.asarray(found["embeddings"], dtype=np.float32)
        order = sorted(
            range(len(chunks)), key=lambda at: (chunks[at].document_id, chunks[at].position)
        )
        return [chunks[at] for at in order], vectors[order]

    def delete_document(self, document_id: str) -> int:
        """Remove every chunk of a document; returns how many there were."""
        result = self._collection.delete(where={"document_id": document_id})
        if isinstance(result, Mapping) and "deleted" in result:
            return int(result["deleted"])
        return 0

    def count(self) -> int:
        """Chunks in the store."""
        return int(self._collection.count())

    def ping(self) -> bool:
        """True when Chroma answers; a probe reports a down server as not ready."""
        try:
            self._client.heartbeat()
        except Exception:
            log.warning("Chroma does not answer", exc_info=True)
            return False
        return True

    def close(self) -> None:
        """Release the client (a local store's files and threads)."""
        if isinstance(self._client, Client):
            self._client.close()
