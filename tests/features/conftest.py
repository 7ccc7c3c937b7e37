"""Fixtures for the answering features: the app over real HTTP against the emulator, per model."""

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


@pytest.fixture
def corpus_home(tmp_path: Path, embedder: Embedder) -> Path:
    return index_chunks(tmp_path / "home", embedder, corpus_chunks())


@pytest.fixture
def monitor() -> UpstreamMonitor:
    return UpstreamMonitor()


@pytest.fixture
def counted() -> list[dict[str, Any]]:
    """The count_tokens request bodies the emulator received, in order."""
    return []


def _counting(app: Any, counted: list[dict[str, Any]]) -> Any:
    async def wrapper(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/messages/count_tokens":
            await app(scope, receive, send)
            return
        body = bytearray()

        async def receiving() -> Any:
            message = await receive()
            body.extend(message.get("body", b""))
            if message["type"] == "http.request" and not message.get("more_body"):
                counted.append(json.loads(body))
            return message

        await app(scope, receiving, send)

    return wrapper


@pytest.fixture
def emulator_url(monitor: UpstreamMonitor, counted: list[dict[str, Any]]) -> Iterator[str]:
    app = _counting(_monitored(create_emulator(EmulatorConfig()), monitor), counted)
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Settings a test module or test changes."""
    return {}


@pytest.fixture
def strata_settings(corpus_home: Path, emulator_url: str, overrides: dict[str, Any]) -> Settings:
    return Settings(  # type: ignore[call-arg]
        home=corpus_home, anthropic_base_url=emulator_url, _env_file=None, **overrides
    )


def sent_bodies(monitor: UpstreamMonitor) -> list[dict[str, Any]]:
    """The /v1/messages request bodies the emulator received, in order."""
    return [json.loads(body) for body in monitor.bodies]


def ask_json(client: httpx.Client, question: str, **options: object) -> dict[str, Any]:
    response = client.post("/v1/ask", json={"question": question, "stream": False, **options})
    assert response.status_code == 200, response.text
    return dict(response.json())


def ask_events(client: httpx.Client, question: str, **options: object) -> list[tuple[str, Any]]:
    body = {"question": question, **options}
    with connect_sse(client, "POST", "/v1/ask", json=body) as source:
        assert source.response.status_code == 200
        return [(event.event, json.loads(event.data)) for event in source.iter_sse()]


def ledger_rows(client: httpx.Client, **query: str) -> list[dict[str, Any]]:
    response = client.get("/v1/usage/requests", params={"limit": 200, **query})
    assert response.status_code == 200, response.text
    return list(response.json()["requests"])
