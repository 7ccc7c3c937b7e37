"""Fixtures for answering: a small indexed corpus, the emulator and the app over real HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import serve_in_thread
from rag.embeddings import Embedder
from rag.settings import Settings
from rag.types import Chunk
from tests.corpus import chunks_from_topics, index_chunks

TOPICS = {
    "lighthouses": [
        "The Fresnel lens, invented by Augustin-Jean Fresnel in 1822, lets a lighthouse "
        "project its beam over twenty nautical miles using concentric rings of glass prisms.",
        "Lighthouse keepers trimmed wicks, wound the clockwork that turned the lens and kept "
        "a log of passing ships, weather and every hour the light was lit.",
        "Most lighthouses were automated in the late twentieth century; electric lamps and "
        "solar panels replaced the oil lamps and the keepers who tended them.",
        "Each lighthouse has a characteristic flash pattern, such as two white flashes every "
        "ten seconds, so sailors can tell one light from another at night.",
    ],
    "sourdough": [
        "A sourdough starter is a culture of wild yeast and lactic acid bacteria kept alive "
        "by regular feedings of flour and water, usually once or twice a day.",
        "Bulk fermentation for sourdough takes four to eight hours at room temperature; the "
        "dough is ready when it has grown by about half and shows bubbles on its surface.",
        "Bakers score the loaf with a razor blade before baking so that steam escapes along "
        "a chosen line instead of tearing the crust at random.",
        "A covered cast iron pot traps steam during the first twenty minutes of baking, which "
        "keeps the crust soft long enough for the loaf to rise fully.",
    ],
    "bees": [
        "A honey bee colony has one queen, thousands of female workers and, in summer, a few "
        "hundred male drones whose only task is to mate with a queen.",
        "Worker bees perform a waggle dance to tell their sisters the direction and distance "
        "of flowers, relative to the position of the sun.",
        "Bees make honey by evaporating nectar until its water content falls below about "
        "eighteen percent, then cap the cells with wax.",
        "In winter the colony forms a tight cluster and the bees shiver their flight muscles "
        "to keep the centre of the cluster near thirty-five degrees Celsius.",
    ],
}


def corpus_chunks() -> list[Chunk]:
    # Long enough that three chunks and the system prompt pass the 512-token cache minimum of
    # the current models, counted as the real API counts (about 200 tokens a chunk).
    return chunks_from_topics(TOPICS, repeat=6)


@pytest.fixture
def corpus_home(tmp_path: Path, embedder: Embedder) -> Path:
    return index_chunks(tmp_path / "home", embedder, corpus_chunks())


@dataclass
class UpstreamMonitor:
    """Watches the emulator's /v1/messages exchanges: bodies received and how each ended."""

    requests: int = 0
    bodies: list[bytes] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    # Faults for the emulator to produce on the next requests, in order (x-emulator-fault).
    faults: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    # Cleared, it holds each request at the emulator's door until set again.
    gate: threading.Event = field(default_factory=lambda: _open_event())

    def wait_for_requests(self, count: int, timeout: float = 20) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.requests >= count, timeout)

    def wait_for_outcomes(self, count: int, timeout: float = 20) -> list[str]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.outcomes) >= count, timeout)
            return list(self.outcomes)


def _open_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


class _Sender:
    """Passes messages on and notes whether the response body was sent to its end."""

    def __init__(self, send: Any) -> None:
        self._send = send
        self.finished = False
        # The emulator drops a connection through uvicorn's transport, found as send.__self__.
        self.transport = getattr(getattr(send, "__self__", None), "transport", None)

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.finished = True
        await self._send(message)


def _monitored(app: Any, monitor: UpstreamMonitor) -> Any:
    """The emulator app, with each Messages exchange's body and ending recorded.

    Faults queued on the monitor are asked of the emulator by its own x-emulator-fault header,
    one request at a time, so a test can fail a first attempt and let the retry through.
    """

    async def wrapper(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/messages":
            await app(scope, receive, send)
            return
        with monitor.changed:
            monitor.requests += 1
            monitor.changed.notify_all()
        if not monitor.gate.is_set():
            await asyncio.to_thread(monitor.gate.wait)
        body = bytearray()
        if monitor.faults:
            fault = monitor.faults.pop(0).encode()
            scope = {**scope, "headers": [*scope["headers"], (b"x-emulator-fault", fault)]}

        async def receiving() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    monitor.bodies.append(bytes(body))
            return message

        sender = _Sender(send)
        try:
            await app(scope, receiving, sender.send)
        finally:
            with monitor.changed:
                monitor.outcomes.append("completed" if sender.finished else "cut")
                monitor.changed.notify_all()

    return wrapper


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
def cache_policy() -> str:
    return "adaptive"


@pytest.fixture
def context_score_margin() -> float:
    # Every retrieved chunk is sent: these suites need a documents layer past the cache minimums.
    return 2.0


@pytest.fixture
def strata_settings(
    corpus_home: Path, emulator_url: str, cache_policy: str, context_score_margin: float
) -> Settings:
    return Settings(  # type: ignore[call-arg]
        home=corpus_home,
        anthropic_base_url=emulator_url,
        cache_policy=cache_policy,
        context_score_margin=context_score_margin,
        _env_file=None,
    )
