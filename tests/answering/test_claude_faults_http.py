"""Claude's faults as a client of Strata sees them, and as the ledger records them."""

import httpx
import pytest

from rag.settings import Settings
from tests.answering.conftest import UpstreamMonitor
from tests.answering.test_ask_http import ask_stream

QUESTION = "How do bees make honey?"


@pytest.fixture
def strata_settings(strata_settings: Settings) -> Settings:
    # Shorter than the emulator's retry-after of 1 s: a rate limit must fail at once.
    return strata_settings.model_copy(update={"claude_max_retry_wait_seconds": 0.5})


def _ledger(client: httpx.Client) -> list[dict]:
    response = client.get("/v1/usage/requests", params={"limit": 50})
    assert response.status_code == 200, response.text
    return response.json()["requests"]


def test_a_rate_limit_longer_than_the_retry_budget_reaches_the_client_as_a_429(
    client: httpx.Client, monitor: UpstreamMonitor
):
    monitor.faults.extend(["rate_limit"] * 4)
    response = client.post("/v1/ask", json={"question": QUESTION, "stream": False})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["type"] == "upstream_rate_limited"
    assert monitor.requests == 1

    streamed = ask_stream(client, QUESTION)
    assert streamed[-1] == (
        "error",
        {
            "type": "upstream_rate_limited",
            "message": streamed[-1][1]["message"],
            "retry_after_seconds": 1,
        },
    )
    assert monitor.requests == 2


def test_a_cut_stream_is_recorded_with_an_estimated_output(
    client: httpx.Client, monitor: UpstreamMonitor
):
    monitor.faults.append("cut_midstream")
    events = ask_stream(client, QUESTION)
    assert [name for name, _ in events][-1] == "error"
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    assert streamed

    whole = ask_stream(client, QUESTION)  # the cut answer was not kept: Claude answers again
    assert whole[-1][0] == "done"
    cut, complete = sorted(_ledger(client), key=lambda row: row["output_estimated"], reverse=True)
    assert cut["output_estimated"] is True
    assert cut["error"]
    assert 1 < cut["output_tokens"] < complete["output_tokens"]
    assert complete["output_estimated"] is False
