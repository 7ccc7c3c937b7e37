"""Search knows where a passage sits: its document's title and headings are part of its vector.

Real HTTP to the app on uvicorn, documents uploaded and indexed by the real pipeline into real
Chroma, searched with the real model.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.serving import serve_in_thread
from ingest.pipeline import IngestPipeline
from rag.embeddings import Embedder
from rag.settings import Settings
from rag.storage.documents import DocumentRegistry
from rag.store import ChunkStore
from tests.jobs import wait_for_job

# The same sections in three guides, worded alike: only a guide's title tells them apart.
SECTIONS = {
    "Installation": "Add the vendor's package repository, install the package with apt and "
    "enable the service so that it starts at boot.",
    "Configuration": "Settings are read from one file under /etc when the service starts; "
    "edit it, then reload the service for a change to take effect.",
    "Backups": "Take a snapshot of the data directory every night and copy it to another "
    "machine; restore by stopping the service and putting the snapshot back.",
}
GUIDES = {
    "postgresql.html": "PostgreSQL administration guide",
    "redis.html": "Redis administration guide",
    "nginx.html": "Nginx administration guide",
}
QUESTIONS = {
    "How do I install PostgreSQL?": ("postgresql.html", "Installation"),
    "PostgreSQL configuration": ("postgresql.html", "Configuration"),
    "How do I back up my PostgreSQL database?": ("postgresql.html", "Backups"),
    "Installing Redis": ("redis.html", "Installation"),
    "Where is the Redis configuration?": ("redis.html", "Configuration"),
    "Redis backups": ("redis.html", "Backups"),
    "How do I install Nginx?": ("nginx.html", "Installation"),
    "How do I change the Nginx configuration?": ("nginx.html", "Configuration"),
    "How are Nginx backups made?": ("nginx.html", "Backups"),
}


def _page(title: str) -> bytes:
    body = "".join(f"<h2>{heading}</h2><p>{text}</p>" for heading, text in SECTIONS.items())
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>".encode()


@pytest.fixture
def indexed(http: httpx.Client) -> httpx.Client:
    files = [("files", (name, _page(title), "text/html")) for name, title in GUIDES.items()]
    response = http.post("/v1/documents", files=files)
    assert response.status_code == 202, response.text
    for job in response.json()["jobs"]:
        assert wait_for_job(http, job["id"])["status"] == "done"
    return http


def _assert_each_question_finds_its_section_first(http: httpx.Client) -> None:
    for question, (source, heading) in QUESTIONS.items():
        response = http.post("/v1/search", json={"query": question, "top_k": 3})
        assert response.status_code == 200, response.text
        best = response.json()["results"][0]
        assert (Path(best["source"]).name, best["title"]) == (source, GUIDES[source]), question
        # The title and headings are only in what is embedded: the text shown is the section's.
        assert best["text"].strip() == SECTIONS[heading], question


def test_a_question_naming_a_guide_and_a_heading_finds_that_section_first(
    indexed: httpx.Client,
) -> None:
    _assert_each_question_finds_its_section_first(indexed)


def test_a_store_embedded_in_the_earlier_form_is_embedded_anew_when_the_app_starts(
    tmp_path: Path, embedder: Embedder
) -> None:
    home, folder = tmp_path / "home", tmp_path / "guides"
    folder.mkdir()
    for name, title in GUIDES.items():
        (folder / name).write_bytes(_page(title))
    # A store as the earlier release left it: collection `chunks`, vectors of the heading path
    # and text alone, in which the three guides' sections are indistinguishable.
    legacy, registry = ChunkStore.open(home, collection="chunks"), DocumentRegistry.open(home)
    pipeline = IngestPipeline(
        embedder, legacy, registry, max_file_bytes=1_000_000, max_unpacked_bytes=1_000_000
    )
    assert pipeline.ingest_files([folder]).count("added") == len(GUIDES)
    chunks = legacy.all_chunks()
    legacy.upsert(
        chunks, embedder.embed_texts([f"{c.heading_path[-1]}\n\n{c.text}" for c in chunks])
    )
    registry.close()
    legacy.close()

    settings = Settings(home=home, _env_file=None)  # type: ignore[call-arg]
    with (
        serve_in_thread(create_app(settings)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        _assert_each_question_finds_its_section_first(http)
    current = ChunkStore.open(home)
    try:
        assert current.count() == len(chunks)
        # Migrated, the earlier collection is dropped: later starts have nothing to reconcile.
        assert current.others() == []
    finally:
        current.close()
