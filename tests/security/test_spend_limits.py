"""What one key may spend: a daily budget, a request rate, tool calls, batch questions.

Each limit is crossed against a running server; the refusal names the limit, the server stays
up, other keys are unaffected and nothing already made is lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.app import create_app
from api.serving import serve_in_thread
from tests.security.conftest import assert_error_shape, keyed_settings_in

KEYS = {
    "budgeted": "budgeted-user-0123456789",
    "free": "free-user-0123456789abcd",
    "hasty": "hasty-user-0123456789abc",
    "admin": "admin-secret-0123456789",
    "viewer": "viewer-secret-0123456789",
}
ROLES = {
    "budgeted": "user:1.00",
    "free": "user",
    "hasty": "user",
    "admin": "admin",
    "viewer": "viewer",
}
RATE_PER_MINUTE = 20
# So dear that one answer spends the budgeted key's whole dollar.
PRICES = {"claude-sonnet-5-5": {"input": 100_000, "output": 100_000}}


def _as(name: str) -> dict[str, str]:
    return {"authorization": f"Bearer {KEYS[name]}"}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = keyed_settings_in(
        tmp_path_factory.mktemp("spend") / "home",
        api_keys=",".join(f"{KEYS[name]}:{role}" for name, role in ROLES.items()),
        price_overrides=json.dumps(PRICES),
        rate_limit_per_minute=RATE_PER_MINUTE,
        agent_max_tool_calls=1,
        max_batch_questions_in_flight=3,
        # Batches stay in flight: nothing polls them while the tests run.
        batch_poll_seconds=3600,
    )
    with serve_in_thread(create_app(settings)) as served:
        yield served


@pytest.fixture
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client


def _ask(http: httpx.Client, who: str, **fields: object) -> httpx.Response:
    body = {"question": "What do the documents say about tides?", "stream": False, **fields}
    return http.post("/v1/ask", json=body, headers=_as(who))


def test_a_key_past_its_daily_budget_is_refused_until_utc_midnight(http: httpx.Client) -> None:
    first = _ask(http, "budgeted")
    assert first.status_code == 200, first.text

    refused = _ask(http, "budgeted")
    assert_error_shape(refused, 429, "budget_exceeded")
    message = refused.json()["error"]["message"]
    assert "of its $1.00 daily budget" in message
    today = datetime.now(UTC).date()
    resets = {f"{today + timedelta(days=n)}T00:00:00Z" for n in (1, 2)}
    assert any(f"resets at {moment}" in message for moment in resets), message
    assert 0 < int(refused.headers["retry-after"]) <= 86_400
    batch = http.post(
        "/v1/batches", json={"questions": [{"question": "Tides?"}]}, headers=_as("budgeted")
    )
    assert_error_shape(batch, 429, "budget_exceeded")

    # Other keys are not held back, and the server is alive.
    assert _ask(http, "free").status_code == 200
    assert http.get("/healthz").status_code == 200

    summary = http.get("/v1/usage/summary", headers=_as("viewer"))
    assert summary.status_code == 200
    assert not any(secret in summary.text for secret in KEYS.values())
    keys = {k["role"] + str(k["daily_budget_usd"]): k for k in summary.json()["keys"]}
    budgeted = keys["user1.0"]
    assert budgeted["spent_today_usd"] >= 1.0
    assert budgeted["key_id"].startswith("k_")
    # The ledger names the key of each call: the refused asks made none.
    assert summary.json()["by_key"][budgeted["key_id"]]["calls"] == 1


def test_a_key_over_its_request_rate_gets_429_and_others_do_not(http: httpx.Client) -> None:
    served = 0
    started = time.monotonic()
    while (response := http.get("/v1/documents", headers=_as("hasty"))).status_code == 200:
        served += 1
        assert served <= 10 * RATE_PER_MINUTE, "the key was never limited"
    # A full bucket, and what it refilled while the requests were made (one every 3 s).
    refilled = (time.monotonic() - started) * RATE_PER_MINUTE / 60
    assert RATE_PER_MINUTE <= served <= RATE_PER_MINUTE + refilled
    assert_error_shape(response, 429, "limit_exceeded")
    assert f"its {RATE_PER_MINUTE} requests for the minute" in response.json()["error"]["message"]
    assert int(response.headers["retry-after"]) >= 1
    assert http.get("/v1/documents", headers=_as("free")).status_code == 200
    # The bucket refills: the key is served again once it waits.
    deadline = time.monotonic() + 120
    while http.get("/v1/documents", headers=_as("hasty")).status_code == 429:
        assert time.monotonic() < deadline, "the rate limit never let the key through again"
        time.sleep(1)


def test_an_agentic_answer_runs_at_most_the_configured_tool_calls(http: httpx.Client) -> None:
    response = _ask(
        http,
        "free",
        question="Use search_documents, then get_document, on the tides.",
        agentic=True,
        max_iterations=4,
    )
    assert response.status_code == 200, response.text
    calls = response.json()["tool_calls"]
    assert [c["name"] for c in calls] == ["search_documents", "get_document"]
    assert "at most" not in calls[0]["summary"]
    assert calls[1]["is_error"]
    assert "at most 1 tool calls" in calls[1]["summary"]


def test_questions_in_flight_in_batches_are_capped_per_key(http: httpx.Client) -> None:
    two = {"questions": [{"question": "Tides?"}, {"question": "Moon?"}]}
    first = http.post("/v1/batches", json=two, headers=_as("free"))
    assert first.status_code == 202, first.text
    refused = http.post("/v1/batches", json=two, headers=_as("free"))
    assert_error_shape(refused, 429, "limit_exceeded")
    assert "at most 3" in refused.json()["error"]["message"]
    assert http.post("/v1/batches", json=two, headers=_as("admin")).status_code == 202
    status = http.get(f"/v1/batches/{first.json()['id']}", headers=_as("free"))
    assert status.status_code == 200
