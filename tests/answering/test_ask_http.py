import json

import httpx
import pytest
from httpx_sse import connect_sse

from tests.answering.conftest import UpstreamMonitor


def ask_stream(client: httpx.Client, question: str, **options: object) -> list[tuple[str, dict]]:
    body = {"question": question, **options}
    with connect_sse(client, "POST", "/v1/ask", json=body) as source:
        assert source.response.status_code == 200
        return [(event.event, json.loads(event.data)) for event in source.iter_sse()]


def ask_json(client: httpx.Client, question: str, **options: object) -> dict:
    response = client.post("/v1/ask", json={"question": question, "stream": False, **options})
    assert response.status_code == 200, response.text
    return response.json()


def test_answer_streams_retrieval_deltas_citations_usage_done(client: httpx.Client):
    events = ask_stream(client, "How does a Fresnel lens help a lighthouse?")
    names = [name for name, _ in events]
    assert names[0] == "retrieval"
    assert names[-2:] == ["usage", "done"]
    middle = names[1:-2]
    assert middle.count("delta") >= 1
    assert middle == sorted(middle, key=lambda n: n != "delta")  # deltas, then citations
    retrieval = events[0][1]
    assert retrieval["conversation_id"].startswith("conv_")
    assert any(s["source"] == "lighthouses.md" for s in retrieval["sources"])
    citations = [data for name, data in events if name == "citation"]
    assert citations
    assert all(c["cited_text"] and c["source"].endswith(".md") for c in citations)
    usage = events[-2][1]
    assert set(usage) >= {
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
        "cost_usd",
        "cost_without_cache_usd",
        "saved_usd",
    }
    assert usage["output_tokens"] > 0
    answer = "".join(data["text"] for name, data in events if name == "delta")
    assert answer.strip()


@pytest.mark.parametrize("cache_policy", ["always"])
def test_first_ask_writes_the_cache_and_another_question_on_the_same_chunks_reads_it(
    client: httpx.Client,
):
    first = ask_json(client, "Who invented the lens used in lighthouses?", top_k=12)
    second = ask_json(client, "How often are bees fed in winter?", top_k=12)
    assert {s["chunk_id"] for s in first["sources"]} == {s["chunk_id"] for s in second["sources"]}
    assert first["usage"]["cache_creation_input_tokens"] > 0
    assert (
        second["usage"]["cache_read_input_tokens"] >= first["usage"]["cache_creation_input_tokens"]
    )
    assert second["usage"]["saved_usd"] > 0
    assert second["usage"]["cost_usd"] < first["usage"]["cost_usd"]


@pytest.mark.parametrize("cache_policy", ["off"])
def test_off_sends_no_cache_control_and_reads_nothing(
    client: httpx.Client, monitor: UpstreamMonitor
):
    for question in ("What is a sourdough starter?", "What is a sourdough starter?"):
        answer = ask_json(client, question, top_k=12)
        assert answer["usage"]["cache_creation_input_tokens"] == 0
        assert answer["usage"]["cache_read_input_tokens"] == 0
        assert answer["answer_cached"] is False
    assert len(monitor.bodies) == 2
    assert all(b"cache_control" not in body for body in monitor.bodies)
    sent = [json.loads(body) for body in monitor.bodies]
    assert all(not {"temperature", "top_p", "top_k"} & set(body) for body in sent)


def test_every_call_opts_in_to_cache_diagnostics_naming_the_previous_response(
    client: httpx.Client, monitor: UpstreamMonitor
):
    first = ask_json(client, "How do bees make honey?")
    ask_json(client, "And how do they keep warm?", conversation_id=first["conversation_id"])
    sent = [json.loads(body) for body in monitor.bodies]
    assert sent[0]["diagnostics"] == {"previous_message_id": None}
    assert sent[1]["diagnostics"]["previous_message_id"].startswith("msg_")


def test_follow_up_keeps_earlier_turns_and_reads_the_cache(
    client: httpx.Client, monitor: UpstreamMonitor
):
    first = ask_json(client, "How do bees tell each other where flowers are?")
    follow_up = ask_json(
        client,
        "How do bees tell each other where flowers are, again?",
        conversation_id=first["conversation_id"],
    )
    assert follow_up["conversation_id"] == first["conversation_id"]
    assert follow_up["usage"]["cache_read_input_tokens"] > 0
    assert follow_up["usage"]["saved_usd"] > 0
    sent = json.loads(monitor.bodies[-1])
    roles = [m["role"] for m in sent["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert sent["messages"][1]["content"][0]["text"] == first["answer"]


def test_identical_question_is_answered_from_the_answer_cache_with_zero_tokens(
    client: httpx.Client, monitor: UpstreamMonitor
):
    first = ask_json(client, "What does a lighthouse keeper do?")
    again = ask_json(client, "  what does a LIGHTHOUSE keeper do ")
    assert again["answer_cached"] is True
    assert again["answer"] == first["answer"]
    usage = again["usage"]
    assert usage["input_tokens"] == usage["output_tokens"] == 0
    assert usage["cost_usd"] == 0
    assert usage["saved_usd"] == pytest.approx(first["usage"]["cost_without_cache_usd"])
    assert len(monitor.bodies) == 1


def test_unknown_conversation_is_404_and_unavailable_options_are_400(client: httpx.Client):
    missing = client.post("/v1/ask", json={"question": "q", "conversation_id": "conv_nope"})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"
    refused = client.post("/v1/ask", json={"question": "q", "agentic": True, "format": "json"})
    assert refused.status_code == 400
    assert "cannot be combined with format=json" in refused.json()["error"]["message"]
    unknown_model = client.post("/v1/ask", json={"question": "q", "model": "claude-nope"})
    assert unknown_model.status_code == 400


def test_search_returns_chunks_without_calling_claude(
    client: httpx.Client, monitor: UpstreamMonitor
):
    response = client.post("/v1/search", json={"query": "waggle dance", "top_k": 3})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 3
    assert set(results[0]) == {"chunk_id", "document_id", "source", "title", "text", "score"}
    assert results[0]["source"] == "bees.md"
    assert "waggle" in results[0]["text"]
    assert monitor.bodies == []


def test_failure_after_the_answer_began_ends_the_stream_with_an_error_event(
    client: httpx.Client, monitor: UpstreamMonitor
):
    monitor.faults.append("midstream_error")
    events = ask_stream(client, "How do bees make honey?")
    names = [name for name, _ in events]
    assert names[0] == "retrieval"
    assert "delta" in names
    assert names[-1] == "error"
    assert "usage" not in names
    assert events[-1][1]["type"] == "upstream_unavailable"
    assert monitor.requests == 1


def test_claude_unavailable_after_retries_is_a_503_for_a_json_answer(
    client: httpx.Client, monitor: UpstreamMonitor
):
    monitor.faults.extend(["server_error"] * 10)
    response = client.post("/v1/ask", json={"question": "What is a starter?", "stream": False})
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "upstream_unavailable"
