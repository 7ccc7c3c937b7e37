"""format=json over HTTP: a validated object through native JSON outputs or a forced tool."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from rag.errors import FeatureUnsupported
from rag.generation import ANSWER_TOOL, AnswerShape
from rag.llm import CallMeter, Claude, ClaudeRequest, ToolInput
from rag.models import model_info
from rag.prompt import build_prompt
from rag.structured import StructuredAnswer, strict_schema
from rag.thinking import ThinkingRequest
from tests.answering.conftest import UpstreamMonitor, corpus_chunks
from tests.features.conftest import MODELS, ask_events, ask_json, ledger_rows, sent_bodies

QUESTION = "Who invented the Fresnel lens used in lighthouses?"


@pytest.mark.parametrize("model", MODELS)
def test_json_answer_validates_and_is_produced_by_native_json_outputs(
    client: httpx.Client, monitor: UpstreamMonitor, model: str
):
    answer = ask_json(client, QUESTION, model=model, format="json")

    structured = StructuredAnswer.model_validate(answer["structured"])
    assert "Fresnel" in structured.answer
    assert answer["answer"] == structured.answer
    assert 0 <= structured.confidence <= 1
    assert answer["model"] == model
    [sent] = sent_bodies(monitor)
    assert sent["output_config"]["format"] == {
        "type": "json_schema",
        "schema": strict_schema(StructuredAnswer),
    }
    assert "tool_choice" not in sent
    results = [b for b in sent["messages"][0]["content"] if b["type"] == "search_result"]
    assert results
    assert all(b["citations"] == {"enabled": False} for b in results)


@pytest.mark.parametrize("model", MODELS)
def test_streamed_json_answer_ends_with_the_validated_object(client: httpx.Client, model: str):
    events = ask_events(client, QUESTION, model=model, format="json")

    names = [name for name, _ in events]
    assert names[0] == "retrieval"
    assert names[-2:] == ["usage", "done"]
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    done = events[-1][1]
    assert StructuredAnswer.model_validate_json(streamed) == StructuredAnswer.model_validate(
        done["structured"]
    )


def test_json_answers_are_cached_apart_from_text_answers(
    client: httpx.Client, monitor: UpstreamMonitor
):
    first = ask_json(client, QUESTION, format="json")
    again = ask_json(client, QUESTION, format="json")
    text = ask_json(client, QUESTION)

    assert again["answer_cached"] is True
    assert again["structured"] == first["structured"]
    assert text["answer_cached"] is False
    assert text["structured"] is None
    assert len(monitor.bodies) == 2


@pytest.mark.parametrize("overrides", [{"max_answer_tokens": 4}])
@pytest.mark.parametrize("model", MODELS)
def test_json_cut_short_is_a_clear_502_and_the_call_is_still_recorded(
    client: httpx.Client, model: str
):
    response = client.post(
        "/v1/ask", json={"question": QUESTION, "stream": False, "model": model, "format": "json"}
    )

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["type"] == "invalid_structured_output"
    assert "not a valid StructuredAnswer" in error["message"]
    [row] = ledger_rows(client)
    assert row["model"] == model
    assert row["output_tokens"] > 0

    events = ask_events(client, QUESTION, model=model, format="json")
    assert events[-1][0] == "error"
    assert events[-1][1]["type"] == "invalid_structured_output"


async def test_forced_tool_answer_validates_on_a_model_without_native_json(emulator_url: str):
    """The fallback for models whose row lacks native JSON outputs, through the real SDK."""
    info = replace(model_info("claude-haiku-4-5"), native_json_output=False)
    prompt = build_prompt(corpus_chunks(), (), QUESTION, {})
    params = AnswerShape("json").request_params(prompt.request_params(), info)
    assert params["tool_choice"] == {"type": "tool", "name": ANSWER_TOOL}
    assert "output_config" not in params
    claude = Claude("test-key", emulator_url, max_attempts=1)
    try:
        events = [
            event
            async for event in claude.stream(
                ClaudeRequest(info.model_id, 1024, params), CallMeter()
            )
        ]
    finally:
        await claude.aclose()

    [tool_input] = [e for e in events if isinstance(e, ToolInput)]
    assert tool_input.name == ANSWER_TOOL
    shape = AnswerShape("json")
    structured = shape.structured(json.dumps(tool_input.input))
    assert structured is not None
    assert "Fresnel" in structured.answer


def test_json_with_thinking_is_refused_on_a_model_without_native_json():
    info = replace(model_info("claude-haiku-4-5"), native_json_output=False)
    shape = AnswerShape("json", ThinkingRequest(budget_tokens=2048))
    with pytest.raises(FeatureUnsupported, match="forced tool"):
        shape.check(info, max_budget_tokens=8000)
    AnswerShape("json").check(info, max_budget_tokens=8000)
