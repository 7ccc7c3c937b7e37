"""Agentic asks over HTTP: Claude calls the document tools in a capped loop, then answers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.agent.conftest import (
    CURRENT_MODEL,
    MODELS,
    ask_agent,
    ledger_rows,
    named,
    sent_bodies,
)
from tests.answering.conftest import UpstreamMonitor

QUESTION = "What did lighthouse keepers do?"


@pytest.mark.parametrize("model", MODELS)
def test_the_loop_searches_then_ends_with_an_answer_citing_what_it_found(
    client: httpx.Client, monitor: UpstreamMonitor, model: str
):
    events = ask_agent(client, QUESTION, model=model)

    names = [name for name, _ in events]
    assert names[0] == "retrieval"
    assert names.index("tool_call") < names.index("tool_result") < names.index("citation")
    assert names[-2:] == ["usage", "done"]
    [call] = named(events, "tool_call")
    assert call["name"] == "search_documents"
    assert call["input"]["query"] == QUESTION
    [result] = named(events, "tool_result")
    assert result["id"] == call["id"]
    assert result["is_error"] is False
    found = {source["chunk_id"] for source in result["sources"]}
    citations = named(events, "citation")
    assert citations
    assert {citation["chunk_id"] for citation in citations} <= found
    assert any("keepers trimmed wicks" in c["cited_text"] for c in citations)
    answer = "".join(data["text"] for data in named(events, "delta"))
    assert "Lighthouse keepers trimmed wicks" in answer

    first, second = sent_bodies(monitor)
    assert "tools" in first
    assert first["messages"][-1]["role"] == "user"
    reply, results = second["messages"][-2:]
    assert reply["role"] == "assistant"
    assert next(b for b in reply["content"] if b["type"] == "tool_use")["id"] == call["id"]
    [tool_result] = results["content"]
    assert tool_result["tool_use_id"] == call["id"]
    assert "is_error" not in tool_result
    assert {block["type"] for block in tool_result["content"]} == {"search_result"}
    assert all(block["citations"] == {"enabled": True} for block in tool_result["content"])


@pytest.mark.parametrize("model", MODELS)
def test_each_call_of_the_loop_has_its_own_agent_row_and_usage_sums_them(
    client: httpx.Client, model: str
):
    events = ask_agent(client, QUESTION, model=model)

    [done] = named(events, "done")
    [usage] = named(events, "usage")
    rows = ledger_rows(client, feature="agent")
    assert len(rows) == 2
    assert {row["conversation_id"] for row in rows} == {done["conversation_id"]}
    assert {row["model"] for row in rows} == {model}
    for field in ("input_tokens", "cache_read_input_tokens", "output_tokens"):
        assert usage[field] == sum(row[field] for row in rows)
    assert usage["cost_usd"] == pytest.approx(sum(row["cost_usd"] for row in rows))


@pytest.mark.parametrize("model", MODELS)
def test_a_failing_tool_goes_back_as_an_error_result_and_the_loop_goes_on(
    client: httpx.Client, monitor: UpstreamMonitor, model: str
):
    events = ask_agent(
        client, "Use get_document to read the whole lighthouse document.", model=model
    )

    [call] = named(events, "tool_call")
    assert call["name"] == "get_document"
    [result] = named(events, "tool_result")
    assert result["is_error"] is True
    assert "no document has the id" in result["summary"]
    assert "error" not in [name for name, _ in events]
    assert named(events, "done")
    _first, second = sent_bodies(monitor)
    [tool_result] = second["messages"][-1]["content"]
    assert tool_result["is_error"] is True
    assert tool_result["tool_use_id"] == call["id"]
    assert "no document has the id" in tool_result["content"][0]["text"]


@pytest.mark.parametrize("model", MODELS)
def test_the_iteration_cap_ends_the_loop_with_a_clear_event(
    client: httpx.Client, monitor: UpstreamMonitor, model: str
):
    question = "Use search_documents and then get_document on the lighthouse keepers."
    events = ask_agent(client, question, model=model, max_iterations=2)

    names = [name for name, _ in events]
    assert [call["name"] for call in named(events, "tool_call")] == [
        "search_documents",
        "get_document",
    ]
    assert len(named(events, "tool_result")) == 1
    [limit] = named(events, "iteration_limit")
    assert limit["max_iterations"] == 2
    assert limit["pending_tools"] == ["get_document"]
    assert "max_iterations" in limit["message"]
    assert names.index("iteration_limit") < names.index("usage") < names.index("done")
    assert len(sent_bodies(monitor)) == 2


def test_the_iteration_cap_shows_in_a_json_answer(client: httpx.Client):
    question = "Use search_documents and then get_document on the lighthouse keepers."
    response = client.post(
        "/v1/ask",
        json={"question": question, "agentic": True, "stream": False, "max_iterations": 1},
    )

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["iteration_limit"] == 1
    assert answer["tool_calls"] is None


def test_a_json_answer_lists_the_tool_calls_with_what_they_found(client: httpx.Client):
    response = client.post("/v1/ask", json={"question": QUESTION, "agentic": True, "stream": False})

    assert response.status_code == 200, response.text
    answer = response.json()
    [call] = answer["tool_calls"]
    assert call["name"] == "search_documents"
    assert call["is_error"] is False
    assert {s["chunk_id"] for s in answer["sources"]} == {s["chunk_id"] for s in call["sources"]}
    assert answer["citations"]
    assert answer["iteration_limit"] is None


@pytest.mark.parametrize("model", MODELS)
def test_the_tools_are_the_same_bytes_on_every_call_and_cached_with_the_system_prompt(
    client: httpx.Client, monitor: UpstreamMonitor, model: str
):
    ask_agent(client, QUESTION, model=model)
    ask_agent(client, "How do bees keep warm in winter?", model=model)

    bodies = sent_bodies(monitor)
    assert len(bodies) == 4
    prefixes = {json.dumps([body["tools"], body["system"]]).encode() for body in bodies}
    assert len(prefixes) == 1
    rows = sorted(ledger_rows(client, feature="agent"), key=lambda row: row["id"])
    second_ask_first_call = rows[2]
    if model == CURRENT_MODEL:
        assert bodies[0]["system"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "5m"}
        assert second_ask_first_call["cache_read_input_tokens"] > 0
        assert second_ask_first_call["layer_hit"] == "system"
    else:
        # claude-haiku-4-5 caches nothing under 4,096 tokens: the tools and system prompt are
        # shorter, so the policy leaves them unmarked rather than pay for a write never made.
        assert "cache_control" not in bodies[0]["system"][-1]
        assert second_ask_first_call["cache_read_input_tokens"] == 0
        assert second_ask_first_call["cache_creation_input_tokens"] == 0


@pytest.mark.parametrize(
    ("model", "thinking"), [(CURRENT_MODEL, "high"), ("claude-haiku-4-5", {"budget_tokens": 2048})]
)
def test_thinking_blocks_go_back_unmodified_between_iterations(
    client: httpx.Client, monitor: UpstreamMonitor, model: str, thinking: object
):
    events = ask_agent(client, QUESTION, model=model, thinking=thinking)

    assert named(events, "thinking")
    assert "error" not in [name for name, _ in events]
    assert named(events, "citation")
    _, second = sent_bodies(monitor)
    reply = second["messages"][-2]["content"]
    assert reply[0]["type"] == "thinking"
    assert reply[0]["signature"]
    assert reply[0]["thinking"]
    assert [b["type"] for b in reply][-1] == "tool_use"


@pytest.mark.parametrize(
    ("options", "status", "kind"),
    [
        ({"format": "json"}, 400, "feature_unsupported"),
        ({"dry_run": True}, 400, "feature_unsupported"),
        ({"max_iterations": 11}, 422, "over_limit"),
        ({"max_iterations": 0}, 422, "invalid_input"),
    ],
)
def test_agentic_asks_it_cannot_serve_are_refused_before_any_call(
    client: httpx.Client,
    monitor: UpstreamMonitor,
    options: dict[str, object],
    status: int,
    kind: str,
):
    response = client.post("/v1/ask", json={"question": QUESTION, "agentic": True, **options})

    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == kind
    assert monitor.bodies == []


def test_a_stream_broken_mid_call_ends_the_loop_with_an_error_event_and_a_ledger_row(
    client: httpx.Client, monitor: UpstreamMonitor
):
    monitor.faults.append("midstream_error")

    events = ask_agent(client, QUESTION)

    names = [name for name, _ in events]
    assert names[-1] == "error"
    assert "done" not in names
    assert "tool_result" not in names
    [row] = ledger_rows(client, feature="agent")
    assert row["error"]
    assert len(sent_bodies(monitor)) == 1


def test_a_longer_loop_reads_its_earlier_tool_results_from_the_cache(
    client: httpx.Client, monitor: UpstreamMonitor
):
    question = "Use search_documents and then get_document on the lighthouse keepers."
    events = ask_agent(client, question, model=CURRENT_MODEL)

    assert named(events, "done")
    bodies = sent_bodies(monitor)
    assert len(bodies) == 3

    def marked(body: dict[str, Any]) -> list[str]:
        return [
            block["type"]
            for message in body["messages"]
            for block in message["content"]
            if "cache_control" in block
        ]

    assert marked(bodies[0]) == []
    # One mark of the loop's own, moved to the newest tool results on each call.
    assert marked(bodies[1]) == marked(bodies[2]) == ["tool_result"]
    assert "cache_control" in bodies[2]["messages"][-1]["content"][-1]
    rows = sorted(ledger_rows(client, feature="agent"), key=lambda row: row["id"])
    assert rows[2]["cache_read_input_tokens"] > rows[1]["cache_read_input_tokens"] > 0
    assert rows[2]["layer_hit"] == "conversation"


def test_a_follow_up_carries_the_earlier_turn_and_chains_cache_diagnostics(
    client: httpx.Client, monitor: UpstreamMonitor
):
    first = ask_agent(client, QUESTION)
    [done] = named(first, "done")

    follow_up = ask_agent(
        client, "And what replaced the keepers?", conversation_id=done["conversation_id"]
    )

    assert named(follow_up, "done")[0]["conversation_id"] == done["conversation_id"]
    bodies = sent_bodies(monitor)
    # The first ask took two calls (search, answer); the follow-up opens with the third.
    opening = bodies[2]["messages"]
    assert opening[0]["content"][0]["text"] == QUESTION
    assert "Lighthouse keepers trimmed wicks" in opening[1]["content"][-1]["text"]
    previous = [body["diagnostics"]["previous_message_id"] for body in bodies]
    assert previous[0] is None
    assert all(message_id is not None for message_id in previous[1:])
    assert len(set(previous[1:])) == len(bodies) - 1
