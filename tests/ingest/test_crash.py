"""Kill a real `strata ingest` process mid-run, then check the state and that a re-run heals it."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rag.storage.documents import DocumentRegistry
from rag.store import ChunkStore

DOCUMENTS = 12


def _write_corpus(folder: Path) -> None:
    folder.mkdir()
    for n in range(DOCUMENTS):
        parts = [
            f"## Chapter {c}\n\n"
            + " ".join(
                f"Document {n} chapter {c} sentence {s} describes the migration of bird "
                f"species {n * 100 + c} across region {s}."
                for s in range(8)
            )
            for c in range(12)
        ]
        (folder / f"doc{n:02}.md").write_text(f"# Field notes {n}\n\n" + "\n\n".join(parts))


def _strata(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "STRATA_HOME": str(home),
        # Small batches so documents are committed one group at a time, giving the kill a
        # moment when some documents are done and others are half written.
        "STRATA_EMBEDDING_BATCH_SIZE": "8",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    env.pop("ANTHROPIC_API_KEY", None)
    strata = Path(sys.executable).with_name("strata")
    return subprocess.Popen(
        [str(strata), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _statuses(home: Path) -> dict[str, str]:
    path = home / "strata.sqlite3"
    if not path.exists():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        try:
            return dict(db.execute("SELECT document_id, status FROM documents"))
        except sqlite3.OperationalError:
            return {}


def _wait_until(condition: Callable[[], bool], timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    tick = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        tick.wait(0.02)


def test_a_killed_ingest_leaves_whole_documents_and_a_rerun_heals_without_duplicates(
    tmp_path: Path,
) -> None:
    corpus, home = tmp_path / "corpus", tmp_path / "home"
    _write_corpus(corpus)

    process = _strata(home, "ingest", str(corpus))

    def some_done_some_running() -> bool:
        statuses = set(_statuses(home).values())
        assert process.poll() is None, "ingest finished before it could be killed"
        return {"done", "running"} <= statuses

    _wait_until(some_done_some_running, timeout_seconds=180)
    process.kill()
    process.communicate(timeout=30)
    assert process.returncode == -9

    store, registry = ChunkStore.open(home), DocumentRegistry.open(home)
    records = {r.document_id: r for r in registry.documents()}
    done_at_kill = {d for d, r in records.items() if r.status == "done"}
    chunks_by_document: dict[str, set[str]] = {}
    for chunk in store.all_chunks():
        chunks_by_document.setdefault(chunk.document_id, set()).add(chunk.chunk_id)
    for document_id in done_at_kill:
        count = records[document_id].chunk_count
        assert chunks_by_document[document_id] == {f"{document_id}:{i}" for i in range(count)}
    # Whatever else is in the store belongs to a document that is not part of the corpus yet.
    assert set(chunks_by_document) - done_at_kill <= {
        d for d, r in records.items() if r.status == "running"
    }
    registry.close()
    store.close()

    rerun = _strata(home, "ingest", str(corpus))
    out, err = rerun.communicate(timeout=300)

    assert rerun.returncode == 0, err
    summary = re.search(r"(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) failed", out)
    assert summary is not None, out
    added, updated, unchanged, failed = map(int, summary.groups())
    assert (added, updated, unchanged, failed) == (
        DOCUMENTS - len(done_at_kill),
        0,
        len(done_at_kill),
        0,
    )
    store, registry = ChunkStore.open(home), DocumentRegistry.open(home)
    records = {r.document_id: r for r in registry.documents()}
    assert len(records) == DOCUMENTS
    assert {r.status for r in records.values()} == {"done"}
    ids = [c.chunk_id for c in store.all_chunks()]
    assert len(ids) == len(set(ids)) == sum(r.chunk_count for r in records.values())
    assert {i.split(":")[0] for i in ids} == set(records)
    registry.close()
    store.close()
