import httpx
import pytest

from tests.batches.conftest import (
    ALL_CHUNKS,
    MODELS,
    QUESTIONS,
    asked,
    batch_rows,
    recorded,
    submit,
)


@pytest.mark.parametrize("model", MODELS)
def test_a_batch_answers_every_question_with_sources_citations_and_usage(
    client: httpx.Client, model: str
):
    batch = submit(client, {"questions": asked(QUESTIONS), "model": model, "top_k": ALL_CHUNKS})
    assert batch["status"] == "in_progress"
    assert batch["questions"] == len(QUESTIONS)
    assert batch["request_counts"]["processing"] == len(QUESTIONS)

    ended = recorded(client, batch["id"])
    assert ended["status"] == "ended"
    assert ended["request_counts"]["succeeded"] == len(QUESTIONS)
    response = client.get(ended["results_url"])
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["question"] for r in results] == QUESTIONS
    for result in results:
        assert result["status"] == "succeeded"
        assert result["model"] == model
        assert result["answer"].strip()
        assert {s["source"] for s in result["sources"]} == {
            "lighthouses.md",
            "sourdough.md",
            "bees.md",
        }
        assert result["citations"]
        assert all(c["cited_text"] and c["chunk_id"] for c in result["citations"])
        assert result["usage"]["output_tokens"] > 0


# Unbatched USD per million tokens from the reference table: input, 5-minute write, 1-hour
# write, read, output.
UNBATCHED_PRICES = {
    "claude-sonnet-5-5": (2.0, 2.5, 4.0, 0.10, 10.0),
    "claude-haiku-4-5": (1.0, 1.25, 2.0, 0.10, 5.0),
}


def unbatched_cost_usd(model: str, row: dict) -> float:
    price_in, price_write, price_write_1h, price_read, price_out = UNBATCHED_PRICES[model]
    return (
        row["input_tokens"] * price_in
        + row["cache_creation_5m_input_tokens"] * price_write
        + row["cache_creation_1h_input_tokens"] * price_write_1h
        + row["cache_read_input_tokens"] * price_read
        + row["output_tokens"] * price_out
    ) / 1_000_000


@pytest.mark.parametrize("model", MODELS)
def test_batch_calls_are_in_the_ledger_at_half_price_and_shared_chunks_are_read_from_cache(
    client: httpx.Client, model: str
):
    batch = submit(client, {"questions": asked(QUESTIONS), "model": model, "top_k": ALL_CHUNKS})
    recorded(client, batch["id"])

    rows = batch_rows(client)
    assert len(rows) == len(QUESTIONS)
    for row in rows:
        assert row["batch"] is True
        assert row["model"] == model
        assert row["error"] is None
        assert row["cost_usd"] == pytest.approx(unbatched_cost_usd(model, row) / 2, rel=1e-9)
    # The first question writes the shared documents block, for an hour (batch requests run
    # concurrently); the others read it at batch price.
    writes = [r for r in rows if r["cache_creation_input_tokens"] > 0]
    assert all(r["cache_creation_1h_input_tokens"] > 0 for r in writes)
    reads = [r for r in rows if r["cache_read_input_tokens"] > 0]
    assert len(writes) == 1
    assert len(reads) == len(QUESTIONS) - 1
    assert all(r["layer_hit"] == "documents" for r in reads)
    assert all(r["saved_usd"] > 0 for r in reads)

    summary = client.get("/v1/usage/summary").json()
    assert summary["by_feature"]["batch"]["calls"] == len(QUESTIONS)
    results = client.get(f"/v1/batches/{batch['id']}/results").json()["results"]
    # Each result's cost is rounded to 8 decimals: the sums may differ by half a unit each.
    assert sum(r["usage"]["cost_usd"] for r in results) == pytest.approx(
        sum(r["cost_usd"] for r in rows), abs=0.5e-8 * len(results)
    )
