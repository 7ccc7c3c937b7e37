"""Retrieval searches only documents whose indexing is done, over real Chroma and SQLite."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from rag.embeddings import Embedder
from rag.retrieval import Retriever
from rag.storage.documents import DocumentRegistry
from rag.store import ChunkStore
from rag.types import Chunk, RetrievedChunk
from tests.answering.conftest import corpus_chunks

QUERY = "How do bees make honey from nectar?"


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[ChunkStore, DocumentRegistry]]:
    store, registry = ChunkStore.open(tmp_path), DocumentRegistry.open(tmp_path)
    yield store, registry
    registry.close()
    store.close()


def _write(store: ChunkStore, registry: DocumentRegistry, embedder: Embedder, chunks: list[Chunk]):
    """What the pipeline does before a document is done: register it, then store its chunks."""
    first = chunks[0]
    registry.start(
        first.document_id,
        source=first.source,
        title=first.title,
        media_type="text/markdown",
        content_hash=first.document_id,
        size_bytes=1,
    )
    store.upsert(chunks, embedder.embed_texts([c.text for c in chunks]))


def _documents(found: Sequence[RetrievedChunk]) -> set[str]:
    return {r.chunk.document_id for r in found}


@pytest.mark.parametrize("hybrid", [False, True])
async def test_chunks_count_only_once_their_document_is_done_and_until_it_is_retired(
    home: tuple[ChunkStore, DocumentRegistry], embedder: Embedder, hybrid: bool
):
    store, registry = home
    retriever = Retriever(
        embedder, store, registry.corpus_version, hybrid, outside_corpus=registry.outside_corpus
    )
    by_source: dict[str, list[Chunk]] = {}
    for chunk in corpus_chunks():
        by_source.setdefault(chunk.source, []).append(chunk)
    for source in ("lighthouses.md", "sourdough.md"):
        _write(store, registry, embedder, by_source[source])
        registry.finish(by_source[source][0].document_id, len(by_source[source]))
    bees = by_source["bees.md"]

    _write(store, registry, embedder, bees)
    assert bees[0].document_id not in _documents(await retriever.retrieve(QUERY, 12))

    registry.finish(bees[0].document_id, len(bees))
    assert bees[0].document_id in _documents(await retriever.retrieve(QUERY, 12))

    # A new version of the same file is done: the old one's chunks wait to be purged, unseen.
    rewritten = [
        replace(c, document_id="bees-v2", chunk_id=f"bees-v2-{c.position}", text=f"{c.text} !")
        for c in bees
    ]
    _write(store, registry, embedder, rewritten)
    assert registry.finish("bees-v2", len(rewritten)) == [bees[0].document_id]
    found = _documents(await retriever.retrieve(QUERY, 12))
    assert "bees-v2" in found
    assert bees[0].document_id not in found
    assert store.chunks_of(bees[0].document_id)  # still in the store, only not searched
