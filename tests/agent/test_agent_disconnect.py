"""A client leaving mid-loop: the upstream stream closes and every call so far is recorded."""

from __future__ import annotations

import httpx
import pytest
from httpx_sse import connect_sse

from api.app import create_app
from api.emulator import EmulatorConfig
from api.serving import serve_in_thread
from rag.ledger import Ledger, database_url
from rag.settings import Settings
from tests.answering.conftest import UpstreamMonitor


# Slow output, so the answer is still streaming when the client goes away.
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(tokens_per_second=40)])
def test_leaving_mid_answer_closes_the_stream_and_records_each_call(
    strata_settings: Settings, monitor: UpstreamMonitor
):
    body = {"question": "What did lighthouse keepers do?", "agentic": True}
    seen = []
    # The server stops before the ledger is read: stopping flushes what it recorded.
    with (
        serve_in_thread(create_app(strata_settings)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        with connect_sse(http, "POST", "/v1/ask", json=body) as source:
            for event in source.iter_sse():
                seen.append(event.event)
                if event.event == "delta" and "tool_result" in seen:
                    break
        assert seen[-2:] == ["tool_result", "delta"]
        assert monitor.wait_for_outcomes(2) == ["completed", "cut"]

    ledger = Ledger.open(database_url(strata_settings.home, None))
    try:
        rows, total = ledger.requests()
    finally:
        ledger.close()
    assert total == 2
    assert {row.feature for row in rows} == {"agent"}
    assert len({row.conversation_id for row in rows}) == 1
    assert all(row.input_tokens + row.cache_read_input_tokens > 0 for row in rows)
