"""An unchanged re-ingest without a server: files hashed, nothing else loaded."""

from __future__ import annotations

from pathlib import Path

from tests.cli_client.folders import corpus
from tests.processes import engines_loaded, run_strata


def test_an_unchanged_re_ingest_hashes_files_and_loads_no_model_store_or_emulator(
    tmp_path: Path,
) -> None:
    docs = corpus(tmp_path / "work")
    home = tmp_path / "home"
    first = run_strata("ingest", "docs", home=home, cwd=docs.parent)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("3 added, ")

    modules = tmp_path / "modules.txt"
    again = run_strata("ingest", "docs", home=home, cwd=docs.parent, modules_file=modules)

    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("0 added, 0 updated, 3 unchanged, 0 failed; 0 chunks")
    assert engines_loaded(modules) == []
    (docs / "readme.txt").write_text("A corpus of two notes, changed.\n")
    changed = run_strata("ingest", "docs", home=home, cwd=docs.parent)
    assert changed.stdout.startswith("0 added, 1 updated, 2 unchanged, 0 failed; ")
