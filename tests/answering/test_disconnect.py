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
@pytest.mark.parametrize("emulator_config", [EmulatorConfig(tokens_per_second=4)])
def test_client_disconnect_closes_the_upstream_stream_and_still_records_usage(
    strata_settings: Settings, monitor: UpstreamMonitor
):
    with serve_in_thread(create_app(strata_settings)) as url:
        with httpx.Client(base_url=url, timeout=30) as http:
            body = {"question": "How do bees keep warm in winter?", "top_k": 12}
            with connect_sse(http, "POST", "/v1/ask", json=body) as source:
                seen = []
                for event in source.iter_sse():
                    seen.append(event.event)
                    if event.event == "delta":
                        break
        assert seen == ["retrieval", "delta"]
        assert monitor.wait_for_outcomes(1) == ["cut"]

    ledger = Ledger.open(database_url(strata_settings.home, None))
    try:
        rows, total = ledger.requests()
    finally:
        ledger.close()
    assert total == 1
    row = rows[0]
    assert row.feature == "ask_stream"
    assert row.input_tokens + row.cache_creation_input_tokens + row.cache_read_input_tokens > 0
    assert row.output_tokens >= 1
    assert str(row.request_id).startswith("req_")
    assert row.conversation_id is not None
