"""The int8 embedder: built from the packaged weights, close to fp32, never mixed with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import IngestPipeline
from rag.embeddings import Embedder
from rag.storage.documents import DocumentRegistry
from rag.store import ChunkStore, collection_for
from tests.ingest.conftest import SAMPLE
from tests.processes import run_strata

# A whole process loads a model and embeds the sample corpus: slow on a loaded CI machine.
CLI_TIMEOUT_S = 1200
PASSAGES = [
    "Bees tell each other where flowers are with a waggle dance on the comb.",
    "A lighthouse lens gathers the lamp's light into a beam seen far out at sea.",
    "Sourdough rises because wild yeast and bacteria ferment the flour.",
    "The tide follows the moon: two highs and two lows a day on most coasts.",
    " ".join(["A passage longer than the model's window, cut as the fp32 model cuts it."] * 30),
]
QUESTIONS = [
    "How do bees share where food is?",
    "What does the lens of a lighthouse do?",
    "Why does sourdough bread rise?",
    "What causes the tides?",
]


@pytest.fixture(scope="module")
def int8_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the int8 export, built once for this module."""
    folder = tmp_path_factory.mktemp("models")
    Embedder(precision="int8", onnx_dir=folder).load()
    return folder


@pytest.fixture(scope="module")
def int8(int8_models: Path) -> Embedder:
    return Embedder(batch_size=32, precision="int8", onnx_dir=int8_models).load()


def test_int8_is_built_from_the_packaged_weights_and_ranks_like_fp32(
    embedder: Embedder, int8: Embedder, int8_models: Path
) -> None:
    assert [p.suffix for p in int8_models.iterdir()] == [".onnx"]
    full, small = embedder.embed_texts(PASSAGES), int8.embed_texts(PASSAGES)
    assert small.shape == full.shape
    assert np.allclose(np.linalg.norm(small, axis=1), 1.0, atol=1e-4)
    assert ((full * small).sum(axis=1) > 0.97).all()
    questions = int8.embed_texts(QUESTIONS)
    assert list((questions @ small.T).argmax(axis=1)) == [0, 1, 2, 3]
    # Vectors of the two never share a cache entry or a collection.
    assert int8.model_id != embedder.model_id
    assert int8.cache_key("x") != embedder.cache_key("x")
    assert collection_for(int8.vector_space) != collection_for(embedder.vector_space)


def test_an_int8_vector_does_not_depend_on_what_it_is_batched_with(int8: Embedder) -> None:
    # The embedding cache keys a vector by its text alone, and a question meets chunks that
    # were embedded in batches.
    batched = int8.embed_texts(PASSAGES)
    for passage, row in zip(PASSAGES, batched, strict=True):
        np.testing.assert_array_equal(int8.embed_texts([passage])[0], row)
    np.testing.assert_allclose(int8.embed_query(PASSAGES[0]), batched[0], atol=1e-6)


def test_a_damaged_int8_export_is_built_again(tmp_path: Path, int8: Embedder) -> None:
    cache = tmp_path / "models"
    cache.mkdir()
    export = Embedder(precision="int8", onnx_dir=cache).onnx_path("int8")
    export.write_bytes(b"half an export")
    rebuilt = Embedder(batch_size=32, precision="int8", onnx_dir=cache).load()
    # Built again where it was: the same export, so the same vectors as the module's int8.
    assert list(cache.iterdir()) == [export]
    np.testing.assert_allclose(rebuilt.embed_texts(PASSAGES), int8.embed_texts(PASSAGES), atol=1e-6)


@pytest.fixture
def int8_pipeline(home: Path, int8: Embedder) -> Iterator[IngestPipeline]:
    store = ChunkStore.open(home, collection=collection_for(int8.vector_space))
    registry = DocumentRegistry.open(home)
    yield IngestPipeline(
        int8, store, registry, max_file_bytes=5_000_000, max_unpacked_bytes=20_000_000
    )
    registry.close()
    store.close()


def test_switching_embedder_reembeds_and_forgets_what_was_deleted_meanwhile(
    pipeline: IngestPipeline, int8_pipeline: IngestPipeline
) -> None:
    report = pipeline.ingest_files([SAMPLE])
    assert report.count("added") >= 2
    indexed = pipeline.store.count()

    # Switched to int8: every chunk is re-embedded into int8's own collection.
    assert int8_pipeline.reconcile([pipeline.store]) == indexed
    assert int8_pipeline.store.count() == indexed
    gone = report.files[0].document_id
    assert gone is not None
    int8_pipeline.delete_document(gone)

    # Back on fp32: the document deleted meanwhile leaves no chunk behind; nothing re-embeds.
    assert pipeline.reconcile([int8_pipeline.store]) == 0
    assert pipeline.store.chunks_of(gone) == []
    assert pipeline.store.count() == int8_pipeline.store.count()


def test_re_embedding_leaves_alone_a_document_another_process_is_indexing(
    pipeline: IngestPipeline, int8_pipeline: IngestPipeline
) -> None:
    pipeline.ingest_files([SAMPLE])
    int8_pipeline.reconcile([pipeline.store])
    record = int8_pipeline.registry.documents()[0]
    # Another replica re-indexes the document: its chunks are written, it is not done yet.
    int8_pipeline.registry.start(
        record.document_id,
        source=record.source,
        title=record.title,
        media_type=record.media_type,
        content_hash=record.content_hash,
        size_bytes=record.size_bytes,
    )
    written = int8_pipeline.store.chunks_of(record.document_id)
    assert written

    int8_pipeline.reconcile([pipeline.store])  # as a replica starting meanwhile does

    assert int8_pipeline.store.chunks_of(record.document_id) == written


def test_the_cli_searches_with_int8_after_an_fp32_ingest(tmp_path: Path, int8_models: Path) -> None:
    home = tmp_path / "home"
    assert run_strata("ingest", str(SAMPLE), home=home, timeout=CLI_TIMEOUT_S).returncode == 0
    found = run_strata(
        "search",
        "Which amendment protects freedom of speech?",
        home=home,
        settings={
            "STRATA_EMBEDDING_PRECISION": "int8",
            "STRATA_MODEL_CACHE_DIR": str(int8_models),
        },
        timeout=CLI_TIMEOUT_S,
    )
    assert found.returncode == 0, found.stderr
    # The best result, embedded anew with int8, is the Bill of Rights.
    assert "bill-of-rights" in found.stdout.splitlines()[0]
