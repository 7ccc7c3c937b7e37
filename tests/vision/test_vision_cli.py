"""`strata ingest` with images offline: the in-process emulator transcribes, the ledger bills."""

from __future__ import annotations

from pathlib import Path

from rag.ledger import Ledger, database_url
from rag.storage.documents import DocumentRegistry
from rag.store import ChunkStore
from tests.processes import run_strata
from tests.vision.conftest import image_bytes, scanned_pdf_bytes


def test_strata_ingest_transcribes_images_and_scanned_pages_once(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "heron.png").write_bytes(image_bytes("PNG", "Heron nest count: 41 nests."))
    (folder / "scan.pdf").write_bytes(scanned_pdf_bytes())
    (folder / "notes.md").write_text("# Notes\n\nThe heronry is on the island.\n")
    home = tmp_path / "home"

    first = run_strata("ingest", str(folder), home=home)
    again = run_strata("ingest", str(folder), home=home)

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1].startswith("3 added, 0 updated, 0 unchanged, 0 failed")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1].startswith("0 added, 0 updated, 3 unchanged, 0 failed")
    registry, store = DocumentRegistry.open(home), ChunkStore.open(home)
    ledger = Ledger.open(database_url(home, None))
    try:
        heron = next(r for r in registry.documents() if r.source.endswith("heron.png"))
        assert "Heron nest count: 41 nests." in store.chunks_of(heron.document_id)[0].text
        vision = ledger.summary().groups["feature"]["vision"]
    finally:
        ledger.close()
        store.close()
        registry.close()
    assert vision.calls == 2
    assert vision.cost_usd > 0
