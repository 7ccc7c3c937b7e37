"""dry_run over HTTP: tokens counted and cost predicted with and without caching, no answer."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from rag.settings import Settings
from rag.storage import Database
from rag.storage.database import database_url
from tests.answering.conftest import UpstreamMonitor
from tests.features.conftest import CURRENT_MODEL, LEGACY_MODEL, MODELS, ask_json, ledger_rows

QUESTION = "What does a sourdough starter need every day?"


def dry_run(client: httpx.Client, question: str = QUESTION, **options: object) -> dict:
    response = client.post("/v1/ask", json={"question": question, "dry_run": True, **options})
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("model", MODELS)
def test_dry_run_counts_the_prompt_an_ask_sends_and_generates_nothing(
    client: httpx.Client, monitor: UpstreamMonitor, model: str
):
    estimate = dry_run(client, model=model, top_k=12)

    assert monitor.bodies == []
    assert [row["feature"] for row in ledger_rows(client)] == ["count"]
    assert estimate["model"] == model
    assert estimate["max_output_tokens"] == 1024
    assert estimate["answer_cached"] is False
    assert sum(layer["tokens"] for layer in estimate["layers"]) <= estimate["input_tokens"]
    # Nothing was sent before: marked layers are predicted written, at the write premium.
    assert not any(layer["cached"] for layer in estimate["layers"])
    premium = (
        estimate["predicted_input_cost_usd"] - estimate["predicted_input_cost_without_cache_usd"]
    )
    marked = any(layer["marked"] for layer in estimate["layers"])
    assert (premium > 0) is marked
    assert estimate["predicted_cost_usd"] > estimate["predicted_input_cost_usd"]
    assert "5 minutes" in estimate["assumption"]

    answer = ask_json(client, QUESTION, model=model, top_k=12)
    usage = answer["usage"]
    prompt_tokens = (
        usage["input_tokens"]
        + usage["cache_creation_input_tokens"]
        + usage["cache_read_input_tokens"]
    )
    assert prompt_tokens == estimate["input_tokens"]


@pytest.mark.parametrize("overrides", [{"cache_policy": "always"}])
@pytest.mark.parametrize("model", MODELS)
def test_dry_run_after_an_ask_over_the_same_chunks_predicts_cache_reads(
    client: httpx.Client, model: str
):
    before = dry_run(client, model=model, top_k=12)
    ask_json(client, "Who invented the lens used in lighthouses?", model=model, top_k=12)
    after = dry_run(client, model=model, top_k=12)

    assert not any(layer["cached"] for layer in before["layers"])
    assert {layer["layer"] for layer in after["layers"] if layer["cached"]} == {
        "system",
        "documents",
    }
    assert after["input_tokens"] == before["input_tokens"]
    assert after["predicted_input_cost_usd"] < before["predicted_input_cost_usd"]
    assert after["predicted_input_cost_without_cache_usd"] == pytest.approx(
        before["predicted_input_cost_without_cache_usd"]
    )


def test_dry_run_of_a_stored_answer_predicts_no_cost(client: httpx.Client):
    ask_json(client, QUESTION)
    estimate = dry_run(client)

    assert estimate["answer_cached"] is True
    assert estimate["predicted_cost_usd"] == 0
    assert estimate["predicted_cost_without_cache_usd"] > 0


@pytest.mark.parametrize("model", MODELS)
def test_dry_run_counts_the_request_with_its_format_and_thinking(
    client: httpx.Client, monitor: UpstreamMonitor, counted: list[dict], model: str
):
    thinking = "medium" if model == CURRENT_MODEL else {"budget_tokens": 2048}
    plain = dry_run(client, model=model)
    shaped = dry_run(client, model=model, format="json", thinking=thinking)

    assert monitor.bodies == []
    plain_count, shaped_count = counted
    assert "output_config" not in plain_count
    assert "thinking" not in plain_count
    assert shaped_count["output_config"]["format"]["type"] == "json_schema"
    assert shaped_count["thinking"]["type"] == ("adaptive" if model == CURRENT_MODEL else "enabled")
    assert "max_tokens" not in shaped_count
    assert shaped["max_output_tokens"] > plain["max_output_tokens"]
    assert shaped["predicted_cost_usd"] > plain["predicted_cost_usd"]


def test_a_dry_run_the_model_cannot_serve_is_refused_before_any_call(client: httpx.Client):
    response = client.post(
        "/v1/ask",
        json={"question": QUESTION, "dry_run": True, "model": LEGACY_MODEL, "thinking": "max"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "feature_unsupported"
    assert ledger_rows(client) == []


def test_dry_run_prices_a_layer_marked_for_an_hour_at_the_one_hour_write_rate(
    client: httpx.Client, strata_settings: Settings
):
    first = ask_json(client, QUESTION, top_k=12)
    conversation = first["conversation_id"]
    ask_json(client, "How warm should it be kept?", top_k=12, conversation_id=conversation)
    follow_up = {"top_k": 12, "conversation_id": conversation}
    before = dry_run(client, "Does it need feeding at weekends?", **follow_up)
    # The same entries, had the planner written them for an hour: the follow-up's marks are
    # 1-hour ones, and the new turns it writes cost the 1-hour rate.
    database = Database.open(database_url(strata_settings.home, None))
    try:
        with database.writing() as connection:
            connection.execute(text("UPDATE cache_marks SET ttl = '1h'"))
    finally:
        database.close()
    after = dry_run(client, "Does it need feeding at weekends?", **follow_up)

    written = [layer for layer in after["layers"] if layer["marked"] and not layer["cached"]]
    assert written
    assert after["layers"] == before["layers"]
    assert after["predicted_input_cost_usd"] > before["predicted_input_cost_usd"]
