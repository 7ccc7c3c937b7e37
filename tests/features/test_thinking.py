"""Thinking over HTTP: an effort level or a budget as the model takes it, streamed apart."""

from __future__ import annotations

import httpx
import pytest

from rag.structured import StructuredAnswer
from tests.answering.conftest import UpstreamMonitor
from tests.features.conftest import (
    CURRENT_MODEL,
    LEGACY_MODEL,
    ask_events,
    ask_json,
    sent_bodies,
)

QUESTION = "How do bees keep the colony warm in winter?"
# What each model takes: an effort level on adaptive models, a budget on older ones.
THINKING = {CURRENT_MODEL: "high", LEGACY_MODEL: {"budget_tokens": 2048}}


@pytest.mark.parametrize("model", [CURRENT_MODEL, LEGACY_MODEL])
def test_thinking_streams_as_its_own_events_before_the_answer(
    client: httpx.Client, monitor: UpstreamMonitor, model: str
):
    events = ask_events(client, QUESTION, model=model, thinking=THINKING[model])

    names = [name for name, _ in events]
    assert "thinking" in names
    assert names.index("thinking") < names.index("delta")
    thought = "".join(data["text"] for name, data in events if name == "thinking")
    assert "bees" in thought.lower()
    answer = "".join(data["text"] for name, data in events if name == "delta")
    assert thought not in answer
    [sent] = sent_bodies(monitor)
    if model == CURRENT_MODEL:
        assert sent["thinking"] == {"type": "adaptive", "display": "summarized"}
        assert sent["output_config"] == {"effort": "high"}
        assert sent["max_tokens"] > 1024
    else:
        assert sent["thinking"]["type"] == "enabled"
        assert sent["thinking"]["budget_tokens"] == 2048
        assert sent["max_tokens"] == 2048 + 1024
        assert "output_config" not in sent


def test_thinking_is_off_by_default(client: httpx.Client, monitor: UpstreamMonitor):
    events = ask_events(client, QUESTION)
    assert "thinking" not in [name for name, _ in events]
    assert "thinking" not in sent_bodies(monitor)[0]


@pytest.mark.parametrize(
    ("model", "thinking", "status", "kind"),
    [
        (CURRENT_MODEL, {"budget_tokens": 2048}, 400, "feature_unsupported"),
        (LEGACY_MODEL, "high", 400, "feature_unsupported"),
        (LEGACY_MODEL, {"effort": "low"}, 400, "feature_unsupported"),
        (LEGACY_MODEL, {"budget_tokens": 60_000}, 400, "feature_unsupported"),
        (LEGACY_MODEL, {"budget_tokens": 512}, 422, "invalid_input"),
        (LEGACY_MODEL, {"effort": "low", "budget_tokens": 2048}, 422, "invalid_input"),
        (CURRENT_MODEL, "extreme", 422, "invalid_input"),
    ],
)
def test_thinking_the_model_does_not_take_is_refused_before_any_call(
    client: httpx.Client,
    monitor: UpstreamMonitor,
    model: str,
    thinking: object,
    status: int,
    kind: str,
):
    response = client.post(
        "/v1/ask", json={"question": QUESTION, "model": model, "thinking": thinking}
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == kind
    assert monitor.bodies == []


@pytest.mark.parametrize("model", [CURRENT_MODEL, LEGACY_MODEL])
def test_answers_with_thinking_never_use_the_answer_cache(
    client: httpx.Client, monitor: UpstreamMonitor, model: str
):
    plain = ask_json(client, QUESTION, model=model)
    first = ask_json(client, QUESTION, model=model, thinking=THINKING[model])
    second = ask_json(client, QUESTION, model=model, thinking=THINKING[model])
    plain_again = ask_json(client, QUESTION, model=model)

    assert first["answer_cached"] is second["answer_cached"] is False
    assert first["thinking"]
    assert second["thinking"]
    assert plain_again["answer_cached"] is True
    assert plain_again["thinking"] is None
    assert plain_again["answer"] == plain["answer"]
    assert len(monitor.bodies) == 3


def test_thinking_combines_with_native_json_output(client: httpx.Client, monitor: UpstreamMonitor):
    answer = ask_json(client, QUESTION, model=CURRENT_MODEL, format="json", thinking="medium")

    StructuredAnswer.model_validate(answer["structured"])
    assert answer["thinking"]
    [sent] = sent_bodies(monitor)
    assert sent["output_config"]["effort"] == "medium"
    assert sent["output_config"]["format"]["type"] == "json_schema"
    assert "tool_choice" not in sent
