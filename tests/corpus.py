"""Small synthetic corpora for the suites that answer over an indexed store."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from rag.embeddings import Embedder
from rag.store import ChunkStore
from rag.types import Chunk


def chunks_from_topics(topics: Mapping[str, Sequence[str]], repeat: int) -> list[Chunk]:
    """One document per topic, one chunk per paragraph, each paragraph repeated repeat times.

    The repetition sizes the documents layer against the models' minimum cacheable lengths.
    """
    chunks = []
    for document, paragraphs in topics.items():
        document_id = hashlib.sha256(document.encode()).hexdigest()[:16]
        offset = 0
        for position, text in enumerate(paragraphs):
            body = " ".join([text] * repeat)
            chunks.append(
                Chunk(
                    chunk_id=f"{document_id}-{position}",
                    document_id=document_id,
                    source=f"{document}.md",
                    title=document.title(),
                    text=body,
                    heading_path=(),
                    position=position,
                    char_start=offset,
                    char_end=offset + len(body),
                )
            )
            offset += len(body) + 1
    return chunks


def index_chunks(home: Path, embedder: Embedder, chunks: Sequence[Chunk]) -> Path:
    """Write chunks and their embeddings into the store under home; return home."""
    store = ChunkStore.open(home)
    store.upsert(list(chunks), embedder.embed_texts([c.text for c in chunks]))
    store.close()
    return home
