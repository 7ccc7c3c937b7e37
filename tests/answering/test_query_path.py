"""The query's own path finds what the batch path would: same vectors, same results.

A question is embedded on one thread without sentence-transformers' per-call preparation, and
hybrid search reads the pool's chunks from its BM25 index instead of from Chroma. Neither may
change what is found.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from rag.embeddings import Embedder
from rag.retrieval import (
    OPENING_WEIGHT,
    SECTION_LEXICAL_WEIGHT,
    Retriever,
    _LexicalIndex,
    fuse,
    sections_first,
)
from rag.store import ChunkStore
from rag.types import Chunk
from tests.answering.conftest import corpus_chunks

QUESTIONS = [
    "How do bees make honey from nectar?",
    "why does sourdough rise",
    "Quelle est la portée d'un phare ? ¿Y en español?",
    "x",
    " ".join(["A question far longer than the model's window, cut where a batch cuts it."] * 40),
]


@pytest.fixture
def store(tmp_path: Path, embedder: Embedder) -> Iterator[ChunkStore]:
    store = ChunkStore.open(tmp_path)
    chunks = corpus_chunks()
    store.upsert(chunks, embedder.embed_texts([c.embedding_text for c in chunks]))
    yield store
    store.close()


def test_a_question_embeds_as_it_does_in_a_batch(embedder: Embedder) -> None:
    batch = embedder.embed_texts(QUESTIONS)
    for question, row in zip(QUESTIONS, batch, strict=True):
        alone = embedder.embed_query(question)
        assert alone.dtype == np.float32
        assert alone.shape == (embedder.dimensions,)
        np.testing.assert_allclose(alone, embedder.embed_texts([question])[0], atol=1e-6)
        np.testing.assert_allclose(alone, row, atol=1e-5)
    # A batch in between (on every thread the embedder may use) changes nothing either.
    again = [embedder.embed_query(q) for q in QUESTIONS]
    np.testing.assert_allclose(np.stack(again), batch, atol=1e-5)


def test_questions_embed_through_an_export_built_once_per_model_cache(
    tmp_path: Path, embedder: Embedder
) -> None:
    cache = tmp_path / "models"
    first = Embedder(onnx_dir=cache).load()
    exports = list(cache.iterdir())
    assert [p.name.endswith("-fp32.onnx") for p in exports] == [True]
    built = exports[0].stat().st_mtime_ns
    for question in QUESTIONS:
        np.testing.assert_allclose(
            first.embed_query(question), embedder.embed_texts([question])[0], atol=1e-6
        )
    # Another state directory's embedder on the machine reads the same export.
    Embedder(onnx_dir=cache).load()
    assert list(cache.iterdir()) == exports
    assert exports[0].stat().st_mtime_ns == built


def test_a_damaged_export_in_the_model_cache_is_built_again(
    tmp_path: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "models"
    cache.mkdir()
    export = Embedder(onnx_dir=cache).onnx_path("fp32")
    export.write_bytes(b"half an export")
    with caplog.at_level(logging.WARNING, logger="rag.embeddings"):
        rebuilt = Embedder(onnx_dir=cache).load()
    # The file is a whole export again, and questions go through it, not through PyTorch.
    assert list(cache.iterdir()) == [export]
    session = onnxruntime.InferenceSession(str(export))
    assert session.get_outputs()[0].shape[-1] == embedder.dimensions
    assert not [r for r in caplog.records if "PyTorch" in r.getMessage()]
    for question in QUESTIONS:
        np.testing.assert_allclose(
            rebuilt.embed_query(question), embedder.embed_texts([question])[0], atol=1e-6
        )


def test_a_model_cache_that_cannot_be_written_still_embeds_questions(
    tmp_path: Path, embedder: Embedder
) -> None:
    not_a_folder = tmp_path / "models"
    not_a_folder.write_text("a file where the cache folder should be")
    fallback = Embedder(onnx_dir=not_a_folder).load()
    question = QUESTIONS[0]
    np.testing.assert_allclose(
        fallback.embed_query(question), embedder.embed_texts([question])[0], atol=1e-6
    )


@pytest.mark.parametrize("question", QUESTIONS[:3])
async def test_hybrid_search_finds_what_the_whole_pool_from_chroma_gave(
    store: ChunkStore, embedder: Embedder, question: str
) -> None:
    retriever = Retriever(embedder, store, lambda: "v1")
    top_k = 8
    found = await retriever.search(question, top_k)

    # The path before: chunks, text and metadata included, read from Chroma's answer.
    vector = embedder.embed_texts([question])[0]
    pool = store.nearest(vector, top_k * 3)
    index = _LexicalIndex(*store.all_chunks_with_vectors())
    words, section_words = index.scores(question)
    rankings = [
        (retriever.lexical_weight, words),
        (OPENING_WEIGHT, index.openings(vector, pool)),
        (SECTION_LEXICAL_WEIGHT, section_words),
    ]
    before = sections_first(fuse(pool, rankings))[:top_k]

    assert [r.chunk for r in found] == [r.chunk for r in before]
    assert [r.score for r in found] == pytest.approx([r.score for r in before], abs=1e-5)


async def test_a_chunk_the_index_has_not_seen_is_read_from_the_store(
    store: ChunkStore, embedder: Embedder
) -> None:
    retriever = Retriever(embedder, store, lambda: "v1")
    question = "How do bees make honey from nectar?"
    await retriever.search(question, 4)  # the BM25 index of version v1 is built

    # Stored after the index was built, under the same corpus version.
    late = Chunk(
        chunk_id="late:0",
        document_id="late",
        source="late.md",
        title="Late",
        text="Bees make honey from nectar: they carry it home and fan it until it thickens.",
        heading_path=("Honey",),
        position=0,
        char_start=0,
        char_end=80,
    )
    store.upsert([late], embedder.embed_texts([late.embedding_text]))

    found = await retriever.search(question, 4)
    assert late in [r.chunk for r in found]
