"""Claude is sent a file's name, never where the file lives on the server."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from rag.embeddings import Embedder
from tests.answering.conftest import UpstreamMonitor, corpus_chunks
from tests.answering.test_ask_http import ask_json
from tests.corpus import index_chunks

SERVER_FOLDER = "/srv/strata-library/shelf"


@pytest.fixture
def corpus_home(tmp_path: Path, embedder: Embedder) -> Path:
    # What `strata ingest` stores for files named by absolute path outside its working folder.
    chunks = [replace(c, source=f"{SERVER_FOLDER}/{c.source}") for c in corpus_chunks()]
    return index_chunks(tmp_path / "home", embedder, chunks)


def test_a_file_ingested_by_absolute_path_reaches_claude_by_its_name_alone(
    client: httpx.Client, monitor: UpstreamMonitor
):
    answer = ask_json(client, "How does a Fresnel lens help a lighthouse?")

    sent = json.loads(monitor.bodies[-1])
    results = [
        block
        for message in sent["messages"]
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "search_result"
    ]
    assert results
    assert {r["source"] for r in results} <= {"lighthouses.md", "sourdough.md", "bees.md"}
    assert SERVER_FOLDER not in monitor.bodies[-1].decode()
    # The user still sees the full name, in sources and in citations.
    assert f"{SERVER_FOLDER}/lighthouses.md" in {s["source"] for s in answer["sources"]}
    assert answer["citations"]
    assert all(c["source"].startswith(SERVER_FOLDER) for c in answer["citations"])
