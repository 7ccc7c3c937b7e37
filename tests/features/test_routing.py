"""Model routing over HTTP: the fast model answers trivial questions, the default the rest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import serve_in_thread
from rag.routing import ROUTING_SYSTEM_PROMPT, RouteDecision
from rag.settings import Settings
from rag.structured import strict_schema
from tests.answering.conftest import UpstreamMonitor, _monitored
from tests.features.conftest import ask_json, ledger_rows, sent_bodies

TRIVIAL = "Hello, thanks a lot!"
COMPLEX = "How does a Fresnel lens help a lighthouse?"
# (default, fast): the classification runs on a legacy and on a current model.
PAIRS = [("claude-sonnet-5-5", "claude-haiku-4-5"), ("claude-opus-5-5", "claude-sonnet-5-5")]


@pytest.fixture(params=PAIRS, ids=lambda pair: f"fast={pair[1]}")
def overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    default, fast = request.param
    return {"routing": True, "model": default, "fast_model": fast}


def test_a_trivial_question_is_answered_by_the_fast_model_after_a_route_call(
    client: httpx.Client, monitor: UpstreamMonitor, overrides: dict[str, object]
):
    answer = ask_json(client, TRIVIAL)

    assert answer["model"] == overrides["fast_model"]
    route, ask = sent_bodies(monitor)
    assert route["model"] == overrides["fast_model"]
    assert route["max_tokens"] <= 64
    assert route["output_config"]["format"]["schema"] == strict_schema(RouteDecision)
    assert "search_result" not in json.dumps(route)
    assert ask["model"] == overrides["fast_model"]
    rows = {row["feature"]: row for row in ledger_rows(client)}
    assert rows["route"]["model"] == overrides["fast_model"]
    assert rows["route"]["input_tokens"] + rows["route"]["cache_creation_input_tokens"] > 0
    assert rows["ask"]["routed_from_model"] == overrides["model"]
    assert rows["ask"]["routing_saved_usd"] > 0


def test_a_question_that_needs_the_documents_goes_to_the_default_model(
    client: httpx.Client, monitor: UpstreamMonitor, overrides: dict[str, object]
):
    answer = ask_json(client, COMPLEX)

    assert answer["model"] == overrides["model"]
    assert [body["model"] for body in sent_bodies(monitor)] == [
        overrides["fast_model"],
        overrides["model"],
    ]
    rows = {row["feature"]: row for row in ledger_rows(client)}
    assert set(rows) == {"route", "ask"}
    assert rows["ask"]["routed_from_model"] is None


def test_a_named_model_or_a_follow_up_is_never_routed(
    client: httpx.Client, monitor: UpstreamMonitor, overrides: dict[str, object]
):
    named = ask_json(client, TRIVIAL, model=overrides["model"])
    follow_up = ask_json(client, TRIVIAL, conversation_id=named["conversation_id"])

    assert named["model"] == follow_up["model"] == overrides["model"]
    assert [row["feature"] for row in ledger_rows(client)] == ["ask", "ask"]
    assert len(monitor.bodies) == 2


def test_a_repeated_question_is_classified_once(
    client: httpx.Client, monitor: UpstreamMonitor, overrides: dict[str, object]
):
    first = ask_json(client, TRIVIAL)
    again = ask_json(client, TRIVIAL.upper())

    assert first["model"] == again["model"] == overrides["fast_model"]
    assert again["answer_cached"] is True
    assert [row["feature"] for row in ledger_rows(client, feature="route")] == ["route"]
    assert len(monitor.bodies) == 2


@pytest.mark.parametrize(
    "overrides",
    [{"routing": True, "model": "claude-sonnet-5-5", "fast_model": "claude-haiku-4-5"}],
)
def test_a_shape_the_fast_model_cannot_serve_skips_routing(
    client: httpx.Client, monitor: UpstreamMonitor
):
    answer = ask_json(client, TRIVIAL, thinking="low")

    assert answer["model"] == "claude-sonnet-5-5"
    assert ledger_rows(client, feature="route") == []
    assert len(monitor.bodies) == 1


@pytest.mark.parametrize(
    "overrides",
    [{"routing": True, "model": "claude-opus-5-5", "fast_model": "claude-sonnet-5-5"}],
)
def test_the_classification_prompt_is_read_from_the_cache_after_the_first_call(
    client: httpx.Client,
):
    ask_json(client, "Hi, good morning!")
    ask_json(client, "Thanks, goodbye!")

    first, second = sorted(ledger_rows(client, feature="route"), key=lambda row: row["id"])
    assert first["cache_creation_input_tokens"] > 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cost_usd"] < first["cost_usd"]


def test_the_usage_summary_shows_what_routing_saved_net_of_the_classifications(
    client: httpx.Client,
):
    ask_json(client, TRIVIAL)
    ask_json(client, COMPLEX)

    summary = client.get("/v1/usage/summary").json()
    route_cost = summary["by_feature"]["route"]["cost_usd"]
    assert summary["routed_calls"] == 1
    assert route_cost > 0
    assert summary["routing_saved_usd"] > 0
    assert summary["routing_net_saved_usd"] == pytest.approx(
        summary["routing_saved_usd"] - route_cost
    )


@pytest.mark.parametrize("overrides", [{}])
def test_routing_is_off_by_default(client: httpx.Client, monitor: UpstreamMonitor):
    answer = ask_json(client, TRIVIAL)

    assert answer["model"] == "claude-sonnet-5-5"
    assert [row["feature"] for row in ledger_rows(client)] == ["ask"]
    assert len(monitor.bodies) == 1


def _failing_classifications(app: Any) -> Any:
    """The emulator, told by its own fault header to answer every classification with a 500."""

    async def wrapper(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/messages":
            await app(scope, receive, send)
            return
        messages = [await receive()]
        while messages[-1].get("more_body"):
            messages.append(await receive())
        if ROUTING_SYSTEM_PROMPT.encode()[:40] in b"".join(m.get("body", b"") for m in messages):
            fault = (b"x-emulator-fault", b"server_error")
            scope = {**scope, "headers": [*scope["headers"], fault]}

        async def replay() -> Any:
            return messages.pop(0) if messages else await receive()

        await app(scope, replay, send)

    return wrapper


@pytest.fixture
def failing_emulator_url(monitor: UpstreamMonitor) -> Iterator[str]:
    app = _failing_classifications(_monitored(create_emulator(EmulatorConfig()), monitor))
    with serve_in_thread(app) as url:
        yield url


@pytest.mark.parametrize(
    "overrides",
    [{"routing": True, "model": "claude-sonnet-5-5", "fast_model": "claude-haiku-4-5"}],
)
def test_a_failed_classification_leaves_the_question_to_the_default_model(
    corpus_home: Path, failing_emulator_url: str, overrides: dict[str, Any]
):
    settings = Settings(  # type: ignore[call-arg]
        home=corpus_home,
        anthropic_base_url=failing_emulator_url,
        claude_max_attempts=1,
        _env_file=None,
        **overrides,
    )
    with (
        serve_in_thread(create_app(settings)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        answer = ask_json(client, TRIVIAL)

        assert answer["model"] == "claude-sonnet-5-5"
        route = ledger_rows(client, feature="route")
        assert len(route) == 1
        assert "500" in route[0]["error"]
