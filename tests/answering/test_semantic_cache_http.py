"""The semantic answer cache over HTTP: a paraphrase is answered for free, a near miss is not."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse

from rag.settings import Settings
from tests.answering.test_ask_http import ask_json
from tests.answering.test_conversations_http import _upload

QUESTION = "How do bees make honey?"
PARAPHRASE = "How is honey made by bees?"


@pytest.fixture
def semantic_cache() -> str:
    return "on"


@pytest.fixture
def audit_rate() -> float:
    return 0.0


@pytest.fixture
def strata_settings(
    corpus_home: Path, emulator_url: str, semantic_cache: str, audit_rate: float
) -> Settings:
    return Settings(  # type: ignore[call-arg]
        home=corpus_home,
        anthropic_base_url=emulator_url,
        semantic_cache=semantic_cache,
        semantic_cache_audit_rate=audit_rate,
        _env_file=None,
    )


def ledger_rows(client: httpx.Client) -> list[dict]:
    response = client.get("/v1/usage/requests", params={"limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["requests"]


def test_a_paraphrase_streams_the_cached_answer_and_the_ledger_names_its_match(
    client: httpx.Client,
):
    first = ask_json(client, QUESTION)
    with connect_sse(client, "POST", "/v1/ask", json={"question": PARAPHRASE}) as source:
        assert source.response.status_code == 200
        events = [(e.event, json.loads(e.data)) for e in source.iter_sse()]

    names = [name for name, _ in events]
    assert names[0] == "retrieval"
    assert names[-2:] == ["usage", "done"]
    text = "".join(data["text"] for name, data in events if name == "delta")
    usage, done = events[-2][1], events[-1][1]
    assert first["answer_cached"] is False
    assert text == first["answer"]
    assert usage["layer_hit"] == "semantic"
    assert usage["cost_usd"] == 0
    assert usage["saved_usd"] == pytest.approx(first["usage"]["cost_without_cache_usd"])
    assert done["answer_cached"] is True

    (row,) = [r for r in ledger_rows(client) if r["conversation_id"] == done["conversation_id"]]
    assert row["layer_hit"] == "semantic"
    assert row["semantic_question"] == QUESTION
    assert 0.7 <= row["semantic_similarity"] <= 1
    summary = client.get("/v1/usage/summary").json()
    assert (summary["semantic_cache_hits"], summary["answer_cache_hits"]) == (1, 0)
    assert summary["semantic_avoided_cost_usd"] == pytest.approx(row["avoided_cost_usd"])
    layers = {s["layer"]: s for s in client.get("/v1/usage/insights").json()["layers"]}
    assert (layers["semantic"]["hits"], layers["semantic"]["eligible_calls"]) == (1, 2)


@pytest.mark.parametrize(
    ("cached", "asked"),
    [
        ("Why do bees shiver in winter?", "Why don't bees shiver in winter?"),
        ("How many queens does a colony have?", "How many drones does a colony have?"),
        (
            "How long does bulk fermentation take?",
            "How long does bulk fermentation take at 30 degrees?",
        ),
    ],
    ids=["negation", "other-object", "added-number"],
)
def test_a_near_miss_is_answered_by_claude(client: httpx.Client, cached: str, asked: str):
    ask_json(client, cached)
    answer = ask_json(client, asked)
    assert answer["answer_cached"] is False
    assert answer["usage"]["layer_hit"] != "semantic"
    assert answer["usage"]["output_tokens"] > 0


def test_a_follow_up_in_a_conversation_is_never_served_from_it(client: httpx.Client):
    ask_json(client, QUESTION)
    opener = ask_json(client, "What does a lighthouse keeper do?")
    follow_up = ask_json(client, PARAPHRASE, conversation_id=opener["conversation_id"])
    assert follow_up["answer_cached"] is False
    assert follow_up["usage"]["layer_hit"] != "semantic"


def test_an_ingest_invalidates_it(client: httpx.Client):
    ask_json(client, QUESTION)
    _upload(client, "harbours.txt", "Harbour pilots guide large ships into port. " * 20)
    after = ask_json(client, PARAPHRASE)
    assert after["answer_cached"] is False
    assert after["usage"]["output_tokens"] > 0


@pytest.mark.parametrize("semantic_cache", ["off"])
def test_off_serves_no_paraphrase(client: httpx.Client):
    ask_json(client, QUESTION)
    after = ask_json(client, PARAPHRASE)
    assert after["answer_cached"] is False
    assert after["usage"]["layer_hit"] != "semantic"


@pytest.mark.parametrize("audit_rate", [1.0])
def test_an_audit_answers_a_hit_anyway_and_records_the_verdict(client: httpx.Client):
    ask_json(client, QUESTION)
    hit = ask_json(client, PARAPHRASE)
    assert hit["usage"]["layer_hit"] == "semantic"

    deadline = time.monotonic() + 60
    while (summary := client.get("/v1/usage/summary").json())["semantic_audits"] < 1:
        assert time.monotonic() < deadline, "the audit was never recorded"
        time.sleep(0.1)
    (audit,) = [r for r in ledger_rows(client) if r["feature"] == "semantic_audit"]
    assert audit["conversation_id"] == hit["conversation_id"]
    assert audit["semantic_question"] == QUESTION
    assert audit["output_tokens"] > 0
    assert audit["semantic_audit_agreed"] in (True, False)
    assert summary["semantic_audit_disagreements"] == int(not audit["semantic_audit_agreed"])
    assert summary["by_feature"]["semantic_audit"]["calls"] == 1


def test_no_audit_when_its_rate_is_zero(client: httpx.Client):
    ask_json(client, QUESTION)
    assert ask_json(client, PARAPHRASE)["usage"]["layer_hit"] == "semantic"
    ask_json(client, "What does a lighthouse keeper do?")
    assert client.get("/v1/usage/summary").json()["semantic_audits"] == 0
