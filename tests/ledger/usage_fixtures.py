"""The app over real HTTP against a tapped emulator, on a small indexed corpus.

The tap reads the usage each /v1/messages response reported, as sent on the wire.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import serve_in_thread
from rag.embeddings import Embedder
from rag.settings import Settings
from rag.types import Chunk
from tests.corpus import index_chunks


class EmulatorTap:
    """Wraps the emulator app; keeps (model, usage) and the request id of every response."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._seen: list[tuple[str, dict[str, int], str | None]] = []

    def usages(self) -> list[tuple[str, dict[str, int]]]:
        with self._lock:
            return [(model, usage) for model, usage, _ in self._seen]

    def request_ids(self) -> list[str]:
        with self._lock:
            return [request_id for _, _, request_id in self._seen if request_id]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/messages":
            await self._app(scope, receive, send)
            return
        request_body = bytearray()
        response_body = bytearray()
        headers: dict[str, str] = {}
        status = 0

        async def receiving() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                request_body.extend(message.get("body", b""))
            return message

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.update((k.decode(), v.decode()) for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body":
                response_body.extend(message.get("body", b""))
            await send(message)

        await self._app(scope, receiving, sending)
        if status == 200:
            model = json.loads(request_body)["model"]
            usage = self.usage_of(headers.get("content-type", ""), bytes(response_body))
            with self._lock:
                self._seen.append((model, usage, headers.get("request-id")))

    @staticmethod
    def usage_of(content_type: str, body: bytes) -> dict[str, int]:
        """The usage a plain or streamed Messages response reported."""
        if content_type.startswith("text/event-stream"):
            usage: dict[str, Any] = {}
            for line in body.decode().splitlines():
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                if event["type"] == "message_start":
                    usage = dict(event["message"]["usage"])
                elif event["type"] == "message_delta":
                    # Cumulative: each message_delta's counts replace the earlier ones.
                    usage.update({k: v for k, v in event["usage"].items() if v is not None})
        else:
            usage = json.loads(body)["usage"]
        split = usage.get("cache_creation") or {}
        return {
            "input_tokens": usage["input_tokens"],
            "cache_creation_input_tokens": usage.get("cache_creation_input_tokens") or 0,
            "cache_creation_5m": split.get("ephemeral_5m_input_tokens", 0),
            "cache_creation_1h": split.get("ephemeral_1h_input_tokens", 0),
            "cache_read_input_tokens": usage.get("cache_read_input_tokens") or 0,
            "output_tokens": usage["output_tokens"],
        }


PARAGRAPHS = {
    "lighthouses": [
        "The Fresnel lens, invented by Augustin-Jean Fresnel in 1822, lets a lighthouse project "
        "its beam over twenty nautical miles using concentric rings of glass prisms.",
        "Lighthouse keepers trimmed wicks, wound the clockwork that turned the lens and kept a "
        "log of passing ships, the weather and every hour the light was lit.",
    ],
    "bees": [
        "Bees make honey by evaporating nectar until its water content falls below about "
        "eighteen percent, then cap the cells with wax.",
        "Worker bees perform a waggle dance to tell their sisters the direction and distance "
        "of flowers, relative to the position of the sun.",
    ],
}


def sample_chunks() -> list[Chunk]:
    chunks = []
    for document, paragraphs in PARAGRAPHS.items():
        for position, text in enumerate(paragraphs):
            # Repeated so the documents layer is over every model's minimum cacheable length.
            body = " ".join([text] * 6)
            chunks.append(
                Chunk(
                    chunk_id=f"{document}-{position}",
                    document_id=document,
                    source=f"{document}.md",
                    title=document.title(),
                    text=body,
                    heading_path=(),
                    position=position,
                    char_start=0,
                    char_end=len(body),
                )
            )
    return chunks


@pytest.fixture
def corpus_home(tmp_path: Path, embedder: Embedder) -> Path:
    """A state directory whose store holds the sample chunks."""
    return index_chunks(tmp_path / "home", embedder, sample_chunks())


@pytest.fixture
def tap() -> EmulatorTap:
    return EmulatorTap(create_emulator(EmulatorConfig()))


@pytest.fixture
def emulator_url(tap: EmulatorTap) -> Iterator[str]:
    with serve_in_thread(tap) as url:
        yield url


@pytest.fixture
def api_keys() -> str:
    """STRATA_API_KEYS for the app; empty: no keys (loopback only)."""
    return ""


@pytest.fixture
def strata_settings(corpus_home: Path, emulator_url: str, api_keys: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        home=corpus_home,
        anthropic_base_url=emulator_url,
        max_streams_per_key=256,
        api_keys=api_keys,
        _env_file=None,
    )
