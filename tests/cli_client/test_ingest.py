"""`strata ingest --url`: uploads to a running server what it has not indexed, named as here."""

from __future__ import annotations

from pathlib import Path

import httpx

from api.app import create_app
from api.serving import serve_in_thread
from rag.settings import Settings
from tests.cli_client.folders import corpus
from tests.processes import more_than_a_client, run_strata


def test_ingest_through_a_server_uploads_what_changed_and_names_files_as_a_local_ingest(
    tmp_path: Path, emulator_url: str
) -> None:
    docs = corpus(tmp_path / "work")
    settings = Settings(  # type: ignore[call-arg]
        home=tmp_path / "server", anthropic_base_url=emulator_url, _env_file=None
    )
    modules = tmp_path / "modules.txt"
    client_home = tmp_path / "client"
    with serve_in_thread(create_app(settings)) as url:
        first = run_strata(
            "ingest", "docs", "--url", url, home=client_home, cwd=docs.parent, modules_file=modules
        )
        again = run_strata("ingest", "docs", "--url", url, home=client_home, cwd=docs.parent)
        (docs / "lamps" / "notes.md").write_text("# Lamps\n\nElectric lamps replaced oil.\n")
        changed = run_strata("ingest", str(docs), "--url", url, home=client_home)
        listed = httpx.get(f"{url}/v1/documents", timeout=30).json()["documents"]

    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("3 added, 0 updated, 0 unchanged, 0 failed; ")
    assert more_than_a_client(modules) == []
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("0 added, 0 updated, 3 unchanged, 0 failed; 0 chunks")
    # Run from elsewhere, the files are named from the folder given: the same names.
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.startswith("0 added, 1 updated, 2 unchanged, 0 failed; ")
    assert sorted((d["source"], d["status"]) for d in listed) == [
        ("docs/herons/notes.md", "done"),
        ("docs/lamps/notes.md", "done"),
        ("docs/readme.txt", "done"),
    ]
    assert not client_home.exists()


def test_a_file_the_server_refuses_fails_alone(tmp_path: Path, strata_url: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Good\n\nA note the server takes.\n")
    (docs / "empty.txt").write_text("")
    result = run_strata("ingest", str(docs), "--url", strata_url, home=tmp_path / "client")
    assert result.returncode == 1
    assert "failed: docs/empty.txt: " in result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("1 added, 0 updated, 0 unchanged, 1 failed")
