"""Fixtures for ingestion: the real model (once per session), real Chroma, real files."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

from ingest.pipeline import IngestPipeline
from rag.embeddings import Embedder
from rag.storage.documents import DocumentRegistry
from rag.store import ChunkStore

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"


@pytest.fixture(scope="session")
def embedder(model_cache: Path) -> Embedder:
    """The bundled MiniLM, loaded once for the whole session (read-only by contract)."""
    return Embedder(batch_size=32, onnx_dir=model_cache).load()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def pipeline(home: Path, embedder: Embedder) -> Iterator[IngestPipeline]:
    store = ChunkStore.open(home)
    registry = DocumentRegistry.open(home)
    yield IngestPipeline(
        embedder,
        store,
        registry,
        max_file_bytes=5_000_000,
        max_unpacked_bytes=20_000_000,
        group_chunks=64,
    )
    registry.close()
    store.close()


def pdf_bytes(pages: list[list[tuple[str, str]]], title: str = "A test PDF") -> bytes:
    """A real PDF: each page a list of (style, text) paragraphs."""
    styles = getSampleStyleSheet()
    story: list[object] = []
    for number, page in enumerate(pages):
        if number:
            story.append(PageBreak())
        story.extend(Paragraph(text, styles[style]) for style, text in page)
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=LETTER, title=title, invariant=1).build(story)
    return out.getvalue()


def encrypted_pdf_bytes() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes([[("BodyText", "Secret.")]]))))
    writer.encrypt(user_password="hunter2", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes() -> bytes:
    """A Word document with a title, nested headings, a list and a table."""
    document = docx.Document()
    document.core_properties.title = "Field guide to owls"
    document.add_heading("Owls", level=1)
    document.add_paragraph("Owls are birds of prey that hunt mostly at night.")
    document.add_heading("Barn owl", level=2)
    document.add_paragraph("The barn owl has a heart-shaped white face.")
    document.add_paragraph("Eats voles", style="List Bullet")
    document.add_paragraph("Nests in barns", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Species"
    table.cell(0, 1).text = "Wingspan"
    table.cell(1, 0).text = "Barn owl"
    table.cell(1, 1).text = "85 cm"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bomb_docx_bytes(inflated_bytes: int = 50_000_000) -> bytes:
    """A DOCX whose one extra part inflates from a few kilobytes to inflated_bytes of zeros."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(docx_bytes())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        with target.open("word/media/padding.bin", "w", force_zip64=True) as padding:
            block = b"\0" * 1_000_000
            for _ in range(inflated_bytes // len(block)):
                padding.write(block)
    return out.getvalue()
