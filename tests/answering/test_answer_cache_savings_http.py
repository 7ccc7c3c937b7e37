"""An answer-cache hit shows the user the same saving the ledger (and the dashboard) records."""

import json

import httpx
import pytest
from httpx_sse import connect_sse

QUESTION = "What does a lighthouse keeper do?"
MONEY = ("cost_usd", "cost_without_cache_usd", "saved_usd")


def ask_usage(client: httpx.Client, stream: bool) -> tuple[dict, bool, str]:
    """The usage of one ask, whether it came from the answer cache, and its conversation."""
    body = {"question": QUESTION, "stream": stream, "top_k": 12}
    if not stream:
        response = client.post("/v1/ask", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        return answer["usage"], answer["answer_cached"], answer["conversation_id"]
    with connect_sse(client, "POST", "/v1/ask", json=body) as source:
        assert source.response.status_code == 200
        events = {event.event: json.loads(event.data) for event in source.iter_sse()}
    done = events["done"]
    return events["usage"], done["answer_cached"], done["conversation_id"]


def ledger_row(client: httpx.Client, conversation_id: str) -> dict:
    response = client.get("/v1/usage/requests", params={"limit": 200})
    assert response.status_code == 200, response.text
    (row,) = [r for r in response.json()["requests"] if r["conversation_id"] == conversation_id]
    return row


@pytest.mark.parametrize("cache_policy", ["always"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_answer_cache_hit_usage_equals_its_ledger_row(client: httpx.Client, stream: bool):
    first, first_cached, _ = ask_usage(client, stream)
    usage, cached, conversation_id = ask_usage(client, stream)
    assert (first_cached, cached) == (False, True)

    row = ledger_row(client, conversation_id)
    assert row["layer_hit"] == usage["layer_hit"] == "answer"
    for field in MONEY:
        assert usage[field] == pytest.approx(row[field], abs=1e-8), field
    for field in (
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
    ):
        assert usage[field] == row[field] == 0, field

    # No Claude call was made; the whole replaced call, priced with no caching, was saved.
    assert usage["cost_usd"] == 0
    assert usage["cost_without_cache_usd"] == pytest.approx(first["cost_without_cache_usd"])
    assert usage["saved_usd"] == pytest.approx(first["cost_without_cache_usd"])
    # The first call wrote the prompt cache, so its actual cost is a different figure.
    assert first["cache_creation_input_tokens"] > 0
    assert first["cost_usd"] != pytest.approx(first["cost_without_cache_usd"])
