"""Fixtures for batches: an indexed corpus, the emulator and the app, all over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import serve_in_thread
from rag.embeddings import Embedder
from rag.settings import Settings
from rag.types import Chunk
from tests.corpus import chunks_from_topics, index_chunks

MODELS = ["claude-sonnet-5-5", "claude-haiku-4-5"]

TOPICS = {
    "lighthouses": [
        "The Fresnel lens, invented by Augustin-Jean Fresnel in 1822, lets a lighthouse "
        "project its beam over twenty nautical miles using concentric rings of glass prisms.",
        "Lighthouse keepers trimmed wicks, wound the clockwork that turned the lens and kept "
        "a log of passing ships, weather and every hour the light was lit.",
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
    ],
    "bees": [
        "Worker bees perform a waggle dance to tell their sisters the direction and distance "
        "of flowers, relative to the position of the sun.",
        "Bees make honey by evaporating nectar until its water content falls below about "
        "eighteen percent, then cap the cells with wax.",
        "In winter the colony forms a tight cluster and the bees shiver their flight muscles "
        "to keep the centre of the cluster near thirty-five degrees Celsius.",
    ],
}
QUESTIONS = [
    "Who invented the lens used in lighthouses?",
    "How long does sourdough bulk fermentation take?",
    "Why do bees perform a waggle dance?",
]
# top_k over the whole corpus: every question gets the same chunk set, so they share a block.
ALL_CHUNKS = 9


def corpus_chunks() -> list[Chunk]:
    # Long enough that the shared documents layer passes even Haiku 4.5's 4,096 minimum.
    return chunks_from_topics(TOPICS, repeat=14)


@pytest.fixture
def corpus_home(tmp_path: Path, embedder: Embedder) -> Path:
    return index_chunks(tmp_path / "home", embedder, corpus_chunks())


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture
def rejected_requests() -> set[str]:
    """custom_ids of batch requests the API is to reject (made invalid on the way)."""
    return set()


def _rejecting(app: Any, custom_ids: set[str]) -> Any:
    """The emulator behind a link that makes the named batch requests ask for too many tokens.

    Strata never sends an invalid request, so the test breaks one in transit: the API then
    answers that request with an `errored` line, as it does for any request it rejects.
    """

    async def wrapper(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not custom_ids or scope["type"] != "http" or scope["path"] != "/v1/messages/batches":
            await app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            body.extend(message.get("body", b""))
            if not message.get("more_body"):
                break
        batch = json.loads(body) if scope["method"] == "POST" else None
        if batch is not None:
            for request in batch["requests"]:
                if request["custom_id"] in custom_ids:
                    request["params"]["max_tokens"] = 10**9
            body = bytearray(json.dumps(batch).encode())
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await app({**scope, "headers": headers}, replay, send)

    return wrapper


@pytest.fixture
def emulator_url(emulator_config: EmulatorConfig, rejected_requests: set[str]) -> Iterator[str]:
    with serve_in_thread(_rejecting(create_emulator(emulator_config), rejected_requests)) as url:
        yield url


@pytest.fixture
def settings_for(corpus_home: Path, emulator_url: str) -> Callable[..., Settings]:
    """Settings of a Strata process on the shared home and emulator, with overrides."""

    def build(**overrides: Any) -> Settings:
        options: dict[str, Any] = {
            "home": corpus_home,
            "anthropic_base_url": emulator_url,
            "batch_poll_seconds": 0.05,
            "_env_file": None,
        }
        return Settings(**{**options, **overrides})

    return build


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def client(
    settings_for: Callable[..., Settings], settings_overrides: dict[str, Any]
) -> Iterator[httpx.Client]:
    with (
        serve_in_thread(create_app(settings_for(**settings_overrides))) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        yield http


def wait_for(check: Callable[[], Any], timeout: float = 30) -> Any:
    """check()'s first truthy value, polling until timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def asked(questions: list[str]) -> list[dict[str, Any]]:
    """The questions as POST /v1/batches takes them."""
    return [{"question": question} for question in questions]


def submit(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/batches", json=body)
    assert response.status_code == 202, response.text
    return response.json()


def recorded(client: httpx.Client, batch_id: str) -> dict[str, Any]:
    """The batch's status once it ended and its calls are in the ledger."""

    def check() -> dict[str, Any] | None:
        batch = client.get(f"/v1/batches/{batch_id}").json()
        return batch if batch["usage_recorded"] else None

    return wait_for(check)


def batch_rows(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/v1/usage/requests", params={"feature": "batch", "limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["requests"]
