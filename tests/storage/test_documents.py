"""The registry is shared: replicas indexing at once agree on the corpus and its version."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.storage import Database
from rag.storage.documents import DocumentRegistry


def _index(registry: DocumentRegistry, document_id: str) -> None:
    registry.start(
        document_id,
        source=f"{document_id}.md",
        title=document_id,
        media_type="text/markdown",
        content_hash=document_id,
        size_bytes=10,
    )
    registry.finish(document_id, 3)


def test_documents_finished_on_two_replicas_at_once_all_count_in_the_corpus_version(
    open_replica: Callable[[], Database], tmp_path: Path
) -> None:
    replicas = [DocumentRegistry(open_replica()) for _ in range(2)]
    empty_version = replicas[0].corpus_version()
    threads = [
        threading.Thread(target=_index, args=(replicas[i % 2], f"doc{i:02d}")) for i in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # A registry that indexed the same documents alone, one by one, names the same version.
    solo = DocumentRegistry.open(tmp_path / "solo")
    for i in range(12):
        _index(solo, f"doc{i:02d}")
    assert replicas[0].corpus_version() == replicas[1].corpus_version() == solo.corpus_version()
    assert solo.corpus_version() != empty_version
    solo.close()
    alone = DocumentRegistry(open_replica())
    assert [r.document_id for r in alone.documents()] == [f"doc{i:02d}" for i in range(12)]
    assert {r.status for r in alone.documents()} == {"done"}

    before = alone.corpus_version()
    alone.remove("doc00")
    assert replicas[1].corpus_version() != before
    assert "doc00" in replicas[0].pending_purges()


def test_embeddings_cached_by_two_replicas_at_once_are_kept_once(
    open_replica: Callable[[], Database],
) -> None:
    replicas = [DocumentRegistry(open_replica()) for _ in range(2)]
    vectors = {f"k{i}": np.full(4, i, dtype=np.float32) for i in range(50)}
    threads = [threading.Thread(target=r.cache_vectors, args=(vectors,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert replicas[0].cached_vector_count() == 50
    found = replicas[1].cached_vectors(["k7", "missing"])
    assert list(found) == ["k7"]
    assert found["k7"].tolist() == [7.0] * 4
