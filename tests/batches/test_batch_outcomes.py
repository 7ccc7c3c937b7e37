"""Questions that were not answered come back per question, with the others' answers."""

import httpx
import pytest

from api.emulator import EmulatorConfig
from tests.batches.conftest import (
    ALL_CHUNKS,
    MODELS,
    QUESTIONS,
    asked,
    batch_rows,
    recorded,
    submit,
)


def results_of(client: httpx.Client, batch_id: str) -> list[dict]:
    response = client.get(f"/v1/batches/{batch_id}/results")
    assert response.status_code == 200, response.text
    return response.json()["results"]


# Each answer takes a second to begin: the cancel arrives while the first one is in progress.
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(ttft_ms=1000)])
@pytest.mark.parametrize("model", MODELS)
def test_canceling_a_batch_keeps_the_answered_question_and_marks_the_rest_canceled(
    client: httpx.Client, model: str
):
    batch = submit(client, {"questions": asked(QUESTIONS), "model": model, "top_k": ALL_CHUNKS})
    early = client.get(f"/v1/batches/{batch['id']}/results")
    assert early.status_code == 409
    assert early.json()["error"]["type"] == "still_processing"
    canceled = client.post(f"/v1/batches/{batch['id']}/cancel")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] in ("canceling", "ended")

    ended = recorded(client, batch["id"])
    assert ended["request_counts"] == {
        "processing": 0,
        "succeeded": 1,
        "errored": 0,
        "canceled": 2,
        "expired": 0,
    }
    results = results_of(client, batch["id"])
    assert [r["status"] for r in results] == ["succeeded", "canceled", "canceled"]
    assert results[0]["answer"].strip()
    assert all(r["answer"] is None and r["usage"] is None for r in results[1:])
    # A canceled question made no call: only the answered one is in the ledger.
    assert len(batch_rows(client)) == 1


# The cache clock runs a million times faster: 24 hours pass while the first answer begins.
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(ttft_ms=300, time_scale=1e6)])
def test_questions_the_api_never_reached_in_time_come_back_expired(client: httpx.Client):
    batch = submit(client, {"questions": asked(QUESTIONS), "top_k": ALL_CHUNKS})
    ended = recorded(client, batch["id"])
    assert ended["request_counts"]["expired"] == 2
    results = results_of(client, batch["id"])
    assert [r["status"] for r in results] == ["succeeded", "expired", "expired"]
    assert len(batch_rows(client)) == 1


@pytest.mark.parametrize("rejected_requests", [{"q1"}])
@pytest.mark.parametrize("model", MODELS)
def test_a_question_the_api_rejects_is_errored_with_its_reason_and_the_others_answer(
    client: httpx.Client, model: str
):
    batch = submit(client, {"questions": asked(QUESTIONS[:2]), "model": model, "top_k": ALL_CHUNKS})
    recorded(client, batch["id"])
    answered, rejected = results_of(client, batch["id"])
    assert answered["status"] == "succeeded"
    assert answered["answer"].strip()
    assert rejected["status"] == "errored"
    assert rejected["error"].startswith("invalid_request_error: max_tokens")
    assert rejected["answer"] is None
    assert rejected["usage"] is None
    # An errored request was processed but not billed: its row carries the error at no cost.
    rows = sorted(batch_rows(client), key=lambda row: row["request_id"])
    assert [row["error"] for row in rows] == [None, rejected["error"]]
    assert rows[0]["cost_usd"] > 0
    assert rows[1]["cost_usd"] == 0


def test_unknown_batches_are_a_404_and_bad_batches_are_refused_before_any_call(
    client: httpx.Client,
):
    assert client.get("/v1/batches/batch_nope").status_code == 404
    assert client.get("/v1/batches/batch_nope/results").status_code == 404
    assert client.post("/v1/batches", json={"questions": []}).status_code == 422
    blank = client.post("/v1/batches", json={"questions": [{"question": "  "}]})
    assert blank.status_code == 422
    unknown_model = client.post(
        "/v1/batches", json={"questions": [{"question": "x"}], "model": "gpt-4"}
    )
    assert unknown_model.status_code == 400
    assert "unknown model" in unknown_model.json()["error"]["message"]
