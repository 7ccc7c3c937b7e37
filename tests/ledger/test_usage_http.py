"""Real asks through the app and the emulator: the ledger's sums equal what the emulator billed."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from rag.pricing import cost_of
from rag.types import Usage
from tests.ledger.usage_fixtures import EmulatorTap

QUESTIONS = [
    "How does a Fresnel lens help a lighthouse?",
    "How does a Fresnel lens help a lighthouse?",  # the same again: an answer-cache hit
    "What did lighthouse keepers do all night?",
    "How do bees turn nectar into honey?",
]


def ask(client: httpx.Client, question: str, **options: object) -> dict:
    response = client.post("/v1/ask", json={"question": question, "stream": False, **options})
    assert response.status_code == 200, response.text
    return response.json()


def ask_streamed(client: httpx.Client, question: str) -> None:
    with client.stream("POST", "/v1/ask", json={"question": question}) as response:
        assert response.status_code == 200
        assert "event: done" in response.read().decode()


def run_asks(client: httpx.Client) -> None:
    first = ask(client, QUESTIONS[0])
    ask(client, QUESTIONS[1])
    ask(client, "And who invented it?", conversation_id=first["conversation_id"])
    ask_streamed(client, QUESTIONS[2])
    ask(client, QUESTIONS[3])


def test_ledger_sums_equal_the_usage_the_emulator_reported(
    client: httpx.Client, tap: EmulatorTap
) -> None:
    run_asks(client)

    summary = client.get("/v1/usage/summary", params={"group_by": "layer"}).json()

    billed = tap.usages()
    assert len(billed) == 4  # one ask was answered from the answer cache
    assert summary["answer_cache_hits"] == 1
    assert summary["calls"] == len(billed) + 1
    for field in (
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
    ):
        assert summary[field] == sum(usage[field] for _, usage in billed), field
    expected_cost = sum(float(cost_of(model, _usage(u)).cost_usd or 0) for model, u in billed)
    assert summary["cost_usd"] == pytest.approx(expected_cost)
    assert summary["saved_usd"] == pytest.approx(
        summary["cost_without_cache_usd"] - summary["cost_usd"]
    )
    assert summary["saved_usd"] > 0
    assert set(summary["by_feature"]) == {"ask", "ask_stream"}
    assert summary["by_layer"]["answer"]["calls"] == 1

    page = client.get("/v1/usage/requests", params={"limit": 50}).json()
    assert page["total"] == summary["calls"]
    recorded_ids = {row["request_id"] for row in page["requests"] if row["request_id"]}
    assert recorded_ids == set(tap.request_ids())


def test_usage_summary_filters_by_period_and_rejects_bad_groupings(client: httpx.Client) -> None:
    ask(client, QUESTIONS[3])

    future = client.get("/v1/usage/summary", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert future["calls"] == 0
    by_day = client.get("/v1/usage/summary", params={"group_by": "day"}).json()["by_day"]
    assert sum(day["calls"] for day in by_day.values()) == 1
    bad = client.get("/v1/usage/summary", params={"group_by": "colour"})
    assert bad.status_code == 422
    assert bad.json()["error"]["type"] == "invalid_input"
    backwards = client.get(
        "/v1/usage/summary", params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01"}
    )
    assert backwards.json()["calls"] == 0


def test_metrics_match_the_summary(client: httpx.Client) -> None:
    run_asks(client)
    summary = client.get("/v1/usage/summary").json()

    text = client.get("/metrics").text

    samples = _samples(text)
    assert (
        sum(v for k, v in samples.items() if k.startswith("strata_claude_calls_total{"))
        == (summary["calls"])
    )
    cache_reads = [
        v
        for k, v in samples.items()
        if k.startswith("strata_claude_tokens_total{") and 'kind="cache_read"' in k
    ]
    assert sum(cache_reads) == summary["cache_read_input_tokens"]
    costs = [v for k, v in samples.items() if k.startswith("strata_claude_cost_usd_total{")]
    assert sum(costs) == pytest.approx(summary["cost_usd"])
    assert 'strata_cache_hit_ratio{layer="answer"}' in samples
    assert any(k.startswith("strata_claude_latency_seconds_bucket{") for k in samples)
    assert samples['strata_claude_latency_seconds_count{feature="ask"}'] >= 1


def test_two_hundred_concurrent_asks_give_two_hundred_rows(
    strata_url: str, tap: EmulatorTap
) -> None:
    async def ask_all() -> list[int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=strata_url, timeout=120, limits=limits) as http:
            responses = await asyncio.gather(
                *(
                    http.post(
                        "/v1/ask",
                        json={"question": f"Question {i}: what do bees do?", "stream": False},
                    )
                    for i in range(200)
                )
            )
        return [r.status_code for r in responses]

    statuses = asyncio.run(ask_all())

    assert statuses == [200] * 200
    with httpx.Client(base_url=strata_url) as client:
        summary = client.get("/v1/usage/summary").json()
    assert summary["calls"] == 200
    assert summary["output_tokens"] == sum(u["output_tokens"] for _, u in tap.usages())


def _usage(reported: dict[str, int]) -> Usage:
    return Usage(
        input_tokens=reported["input_tokens"],
        cache_creation_5m_input_tokens=reported["cache_creation_5m"],
        cache_creation_1h_input_tokens=reported["cache_creation_1h"],
        cache_read_input_tokens=reported["cache_read_input_tokens"],
        output_tokens=reported["output_tokens"],
    )


def _samples(text: str) -> dict[str, float]:
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples
