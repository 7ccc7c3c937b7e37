"""Fixtures for agentic answering: the app over real HTTP against the emulator, with helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import serve_in_thread
from rag.embeddings import Embedder
from rag.settings import Settings
from tests.answering.conftest import UpstreamMonitor, _monitored, corpus_chunks
from tests.corpus import index_chunks

CURRENT_MODEL = "claude-sonnet-5-5"
LEGACY_MODEL = "claude-haiku-4-5"
MODELS = (CURRENT_MODEL, LEGACY_MODEL)

Events = list[tuple[str, Any]]


@pytest.fixture
def corpus_home(tmp_path: Path, embedder: Embedder) -> Path:
    return index_chunks(tmp_path / "home", embedder, corpus_chunks())


@pytest.fixture
def monitor() -> UpstreamMonitor:
    return UpstreamMonitor()


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture
def emulator_url(emulator_config: EmulatorConfig, monitor: UpstreamMonitor) -> Iterator[str]:
    with serve_in_thread(_monitored(create_emulator(emulator_config), monitor)) as url:
        yield url


@pytest.fixture
def strata_settings(corpus_home: Path, emulator_url: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        home=corpus_home, anthropic_base_url=emulator_url, _env_file=None
    )


def ask_agent(client: httpx.Client, question: str, **options: object) -> Events:
    """The SSE events of an agentic ask, as (name, data) pairs."""
    body = {"question": question, "agentic": True, **options}
    with connect_sse(client, "POST", "/v1/ask", json=body) as source:
        assert source.response.status_code == 200, source.response.read()
        return [(event.event, json.loads(event.data)) for event in source.iter_sse()]


def named(events: Events, name: str) -> list[Any]:
    return [data for event, data in events if event == name]


def sent_bodies(monitor: UpstreamMonitor) -> list[dict[str, Any]]:
    """The /v1/messages request bodies the emulator received, in order."""
    return [json.loads(body) for body in monitor.bodies]


def ledger_rows(client: httpx.Client, **query: str) -> list[dict[str, Any]]:
    response = client.get("/v1/usage/requests", params={"limit": 200, **query})
    assert response.status_code == 200, response.text
    return list(response.json()["requests"])
