"""`strata ingest FOLDER` as a process: files parsed in parallel, each registered once."""

from __future__ import annotations

import shutil
from pathlib import Path

from rag.storage.documents import DocumentRegistry
from tests.ingest.conftest import SAMPLE, docx_bytes
from tests.processes import run_strata


def test_a_mixed_folder_is_ingested_and_a_file_that_fails_to_parse_is_reported(
    tmp_path: Path,
) -> None:
    folder, home = tmp_path / "corpus", tmp_path / "home"
    shutil.copytree(SAMPLE, folder)
    (folder / "owls.docx").write_bytes(docx_bytes())
    (folder / "minutes.pdf").write_bytes(b"%PDF-1.7 the rest of this file never arrived")
    (folder / "nested").mkdir()
    (folder / "nested" / "zen.txt").write_bytes((SAMPLE / "zen-of-python.txt").read_bytes())

    # A wide terminal, so that the failure is one line.
    result = run_strata("ingest", str(folder), home=home, settings={"COLUMNS": "400"})

    assert result.returncode == 1, result.stderr
    *failures, summary = result.stdout.splitlines()
    assert summary.startswith("5 added, 0 updated, 1 unchanged, 1 failed; ")
    assert [line for line in failures if line.startswith("failed: ")] == [
        f"failed: {folder / 'minutes.pdf'}: minutes.pdf is not a readable PDF: "
        "Stream has ended unexpectedly"
    ]
    registry = DocumentRegistry.open(home)
    try:
        records = registry.documents()
    finally:
        registry.close()
    names = sorted(r.source.rsplit("/", 1)[-1] for r in records)
    assert names == [
        "bill-of-rights.pdf",
        "gettysburg-address.html",
        "owls.docx",
        "python-sequences.md",
        "zen-of-python.txt",
    ]
    assert {r.status for r in records} == {"done"}
    again = run_strata("ingest", str(folder), home=home)
    assert again.stdout.splitlines()[-1].startswith("0 added, 0 updated, 6 unchanged, 1 failed")
