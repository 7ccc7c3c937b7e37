from __future__ import annotations

import shutil
from pathlib import Path

from ingest.pipeline import IngestPipeline
from ingest.sandbox import ParseLimits
from rag.embeddings import Embedder
from rag.storage.documents import DocumentRegistry
from rag.store import ChunkStore
from tests.ingest.conftest import SAMPLE, docx_bytes


def _corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(SAMPLE, folder)
    (folder / "owls.docx").write_bytes(docx_bytes())
    (folder / ".hidden.md").write_text("# Hidden\n\nNever ingested.")
    (folder / "notes.csv").write_text("not,a,supported,type")
    return folder


def _store_ids_by_document(pipeline: IngestPipeline) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for chunk in pipeline.store.all_chunks():
        found.setdefault(chunk.document_id, set()).add(chunk.chunk_id)
    return found


def test_a_folder_is_ingested_and_every_format_is_searchable(
    pipeline: IngestPipeline, tmp_path: Path
) -> None:
    report = pipeline.ingest_files([_corpus(tmp_path)])

    assert report.count("added") == 5
    assert report.count("failed") == 0
    assert report.chunks == pipeline.store.count()
    assert report.summary().startswith("5 added, 0 updated, 0 unchanged, 0 failed; ")
    sources = {r.source.rsplit("/", 1)[-1] for r in pipeline.registry.documents()}
    assert sources == {
        "bill-of-rights.pdf",
        "gettysburg-address.html",
        "python-sequences.md",
        "zen-of-python.txt",
        "owls.docx",
    }
    questions = {
        "How do I reverse the items of a list in place?": "python-sequences.md",
        "Which amendment forbids cruel and unusual punishments?": "bill-of-rights.pdf",
        "Four score and seven years ago": "gettysburg-address.html",
        "Is simple better than complex?": "zen-of-python.txt",
        "Which owl has a heart-shaped white face?": "owls.docx",
    }
    for question, source in questions.items():
        best = pipeline.store.nearest(pipeline.embedder.embed_query(question), 1)[0]
        assert best.chunk.source.endswith(source), question


def test_reingesting_an_unchanged_corpus_embeds_nothing_and_keeps_the_version(
    pipeline: IngestPipeline, tmp_path: Path
) -> None:
    corpus = _corpus(tmp_path)
    pipeline.ingest_files([corpus])
    version = pipeline.registry.corpus_version()
    cached = pipeline.registry.cached_vector_count()
    chunks = pipeline.store.count()

    again = pipeline.ingest_files([corpus])

    assert again.count("unchanged") == 5
    assert again.chunks == 0
    assert pipeline.registry.cached_vector_count() == cached
    assert pipeline.store.count() == chunks
    assert pipeline.registry.corpus_version() == version


def test_a_changed_file_replaces_its_chunks_and_reuses_unchanged_embeddings(
    pipeline: IngestPipeline, tmp_path: Path
) -> None:
    guide = tmp_path / "guide.md"
    sections = [f"## Part {n}\n\nPart {n} explains topic number {n} in detail." for n in range(6)]
    guide.write_text("# Guide\n\n" + "\n\n".join(sections))
    first = pipeline.ingest_files([guide]).files[0]
    cached = pipeline.registry.cached_vector_count()
    version = pipeline.registry.corpus_version()

    sections[2] = "## Part 2\n\nPart 2 was rewritten to talk about owls."
    guide.write_text("# Guide\n\n" + "\n\n".join(sections))
    second = pipeline.ingest_files([guide]).files[0]

    assert second.outcome == "updated"
    assert second.document_id != first.document_id
    assert pipeline.registry.get(first.document_id or "") is None
    assert set(_store_ids_by_document(pipeline)) == {second.document_id}
    assert pipeline.store.count() == second.chunks == 6
    # Only the rewritten chunk was embedded; the five others came from the cache.
    assert pipeline.registry.cached_vector_count() == cached + 1
    assert pipeline.registry.corpus_version() != version
    owls = pipeline.store.nearest(pipeline.embedder.embed_query("owls"), 1)[0]
    assert "rewritten" in owls.chunk.text


def test_deleting_a_document_leaves_no_chunk_behind(
    pipeline: IngestPipeline, tmp_path: Path
) -> None:
    pipeline.ingest_files([_corpus(tmp_path)])
    record = next(r for r in pipeline.registry.documents() if r.source.endswith(".pdf"))
    version = pipeline.registry.corpus_version()

    removed = pipeline.delete_document(record.document_id)

    assert removed == record.chunk_count > 0
    assert pipeline.store.chunks_of(record.document_id) == []
    assert record.document_id not in _store_ids_by_document(pipeline)
    assert pipeline.registry.get(record.document_id) is None
    assert pipeline.registry.corpus_version() != version


def test_a_bad_file_fails_alone_and_the_rest_are_indexed(
    pipeline: IngestPipeline, tmp_path: Path
) -> None:
    good = tmp_path / "good.txt"
    good.write_text("Owls are birds.")
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not a PDF")
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")

    report = pipeline.ingest_files([bad, good, empty])

    outcomes = {f.source.rsplit("/", 1)[-1]: f for f in report.files}
    assert outcomes["good.txt"].outcome == "added"
    assert outcomes["broken.pdf"].outcome == "failed"
    assert "not a readable PDF" in (outcomes["broken.pdf"].error or "")
    assert outcomes["empty.md"].outcome == "failed"
    assert [r.source.rsplit("/", 1)[-1] for r in pipeline.registry.documents()] == ["good.txt"]


def test_the_same_content_twice_in_one_run_is_indexed_once(
    pipeline: IngestPipeline, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("Identical words about owls.")
    (tmp_path / "b.txt").write_text("Identical words about owls.")

    report = pipeline.ingest_files([tmp_path / "a.txt", tmp_path / "b.txt"])

    assert [f.outcome for f in report.files] == ["added", "unchanged"]
    assert pipeline.store.count() == 1


def test_files_parsed_in_parallel_are_registered_once_and_a_bad_one_fails_alone(
    home: Path, embedder: Embedder, tmp_path: Path
) -> None:
    folder = _corpus(tmp_path)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a PDF")
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not a Word file at all")
    (folder / "zen-again.txt").write_bytes((SAMPLE / "zen-of-python.txt").read_bytes())
    store, registry = ChunkStore.open(home), DocumentRegistry.open(home)
    # PDF and Word files parse in child processes: three of them run at once here.
    pipeline = IngestPipeline(
        embedder,
        store,
        registry,
        max_file_bytes=5_000_000,
        max_unpacked_bytes=20_000_000,
        group_chunks=64,
        parse_limits=ParseLimits(1024 * 1024 * 1024, 120),
        parse_workers=3,
    )
    heard: list[str] = []
    try:
        report = pipeline.ingest_files([folder], lambda outcome: heard.append(outcome.source))
        again = pipeline.ingest_files([folder])
        records = registry.documents()
        stored = _store_ids_by_document(pipeline)
    finally:
        registry.close()
        store.close()

    outcomes = {f.source.rsplit("/", 1)[-1]: f.outcome for f in report.files}
    assert outcomes == {
        "bill-of-rights.pdf": "added",
        "broken.docx": "failed",
        "broken.pdf": "failed",
        "gettysburg-address.html": "added",
        "owls.docx": "added",
        "python-sequences.md": "added",
        "zen-again.txt": "added",
        "zen-of-python.txt": "unchanged",
    }
    assert sorted(heard) == sorted(f.source for f in report.files)  # each heard once
    assert "not a readable PDF" in next(
        f.error or "" for f in report.files if "broken.pdf" in f.source
    )
    assert sorted(r.status for r in records) == ["done"] * 5
    assert len({r.document_id for r in records}) == len({r.source for r in records}) == 5
    assert set(stored) == {r.document_id for r in records}
    assert sum(len(ids) for ids in stored.values()) == report.chunks
    assert [f.outcome for f in again.files].count("unchanged") == 6
    assert again.count("failed") == 2


def test_a_collection_of_an_earlier_embedded_text_is_dropped_once_nothing_is_indexing(
    pipeline: IngestPipeline, home: Path, embedder: Embedder
) -> None:
    # The earlier release's collection, `chunks`, filled as that release filled it (on the
    # same local Chroma, whose one client the fixture's store closes).
    legacy = IngestPipeline(
        embedder,
        ChunkStore.open(home, collection="chunks"),
        pipeline.registry,
        max_file_bytes=5_000_000,
        max_unpacked_bytes=20_000_000,
    )
    legacy.ingest_files([SAMPLE])
    indexed = legacy.store.count()
    record = pipeline.registry.documents()[0]
    # Meanwhile a process of the earlier release indexes a document again, into `chunks`.
    pipeline.registry.start(
        record.document_id,
        source=record.source,
        title=record.title,
        media_type=record.media_type,
        content_hash=record.content_hash,
        size_bytes=record.size_bytes,
    )

    pipeline.reconcile(pipeline.store.others())

    assert [other.name for other in pipeline.store.others()] == ["chunks"]
    assert pipeline.store.chunks_of(record.document_id) == []

    pipeline.registry.finish(record.document_id, record.chunk_count)
    pipeline.reconcile(pipeline.store.others())

    assert pipeline.store.others() == []
    assert pipeline.store.count() == indexed
    assert pipeline.store.chunks_of(record.document_id)
