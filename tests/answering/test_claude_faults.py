import json
import time
from email.utils import formatdate

import anthropic
import httpx2
import pytest

from rag.errors import UpstreamRateLimited, UpstreamRejected, UpstreamUnavailable
from rag.llm import CallMeter, Claude, ClaudeRequest, TextDelta, retry_after_seconds
from tests.answering.conftest import UpstreamMonitor

PROMPT = {
    "system": [{"type": "text", "text": "Answer from the search results."}],
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "search_result",
                    "source": "bees.md",
                    "title": "Bees",
                    "content": [{"type": "text", "text": "Bees make honey from nectar."}],
                    "citations": {"enabled": True},
                },
                {"type": "text", "text": "How do bees make honey?"},
            ],
        }
    ],
}


def _request(model: str = "claude-sonnet-5-5") -> ClaudeRequest:
    return ClaudeRequest(model=model, max_tokens=200, prompt=PROMPT)


async def _answer(claude: Claude, request: ClaudeRequest, meter: CallMeter) -> str:
    parts = []
    async for event in claude.stream(request, meter):
        if isinstance(event, TextDelta):
            parts.append(event.text)
    return "".join(parts)


@pytest.fixture
async def claude(emulator_url: str):
    client = Claude("test-key", emulator_url, max_attempts=3)
    yield client
    await client.aclose()


@pytest.mark.parametrize("fault", ["rate_limit", "overloaded", "server_error", "disconnect"])
async def test_transient_failure_is_retried_and_the_answer_arrives(
    claude: Claude, monitor: UpstreamMonitor, fault: str
):
    monitor.faults.append(fault)
    meter = CallMeter()
    answer = await _answer(claude, _request(), meter)
    assert "honey" in answer
    assert meter.attempts == 2
    assert monitor.requests == 2
    assert meter.usage.output_tokens > 0
    assert meter.request_id is not None


async def test_retries_are_capped_and_then_reported_as_unavailable(
    claude: Claude, monitor: UpstreamMonitor
):
    monitor.faults.extend(["overloaded"] * 5)
    meter = CallMeter()
    with pytest.raises(UpstreamUnavailable, match="after 3 attempts"):
        await _answer(claude, _request(), meter)
    assert monitor.requests == 3


async def test_error_after_the_first_byte_is_surfaced_not_retried(
    claude: Claude, monitor: UpstreamMonitor
):
    monitor.faults.append("midstream_error")
    meter = CallMeter()
    received: list[object] = []

    async def consume() -> None:
        async for event in claude.stream(_request(), meter):
            received.append(event)

    with pytest.raises(UpstreamUnavailable, match="mid-answer"):
        await consume()
    assert received, "some text reached the caller before the error"
    assert monitor.requests == 1
    assert meter.usage.input_tokens > 0


async def test_an_error_event_before_any_text_is_retried(claude: Claude, monitor: UpstreamMonitor):
    monitor.faults.append("error_before_text")
    meter = CallMeter()
    answer = await _answer(claude, _request(), meter)
    assert "honey" in answer
    assert meter.attempts == monitor.requests == 2
    assert not meter.output_estimated


async def test_a_stream_cut_before_its_final_count_records_an_estimate_from_its_text(
    claude: Claude, monitor: UpstreamMonitor
):
    whole = CallMeter()
    await _answer(claude, _request(), whole)
    monitor.faults.append("cut_midstream")
    meter = CallMeter()
    received: list[str] = []

    async def consume() -> None:
        async for event in claude.stream(_request(), meter):
            if isinstance(event, TextDelta):
                received.append(event.text)

    with pytest.raises(UpstreamUnavailable, match="mid-answer"):
        await consume()
    assert received
    assert meter.output_estimated
    assert not whole.output_estimated
    # Not the one token message_start reports: about what the text streamed so far costs.
    assert 1 < meter.usage.output_tokens < whole.usage.output_tokens
    assert meter.usage.input_tokens == whole.usage.input_tokens


async def test_a_retry_after_past_the_longest_wait_fails_at_once_with_that_wait(
    emulator_url: str, monitor: UpstreamMonitor
):
    claude = Claude("test-key", emulator_url, max_attempts=3, max_wait_seconds=0.5)
    monitor.faults.extend(["rate_limit"] * 3)
    try:
        with pytest.raises(UpstreamRateLimited) as failure:
            await _answer(claude, _request(), CallMeter())
    finally:
        await claude.aclose()
    assert failure.value.retry_after_seconds == 1  # the emulator's retry-after
    assert monitor.requests == 1


async def test_other_client_errors_are_never_retried(claude: Claude, monitor: UpstreamMonitor):
    meter = CallMeter()
    with pytest.raises(UpstreamRejected) as failure:
        await _answer(claude, _request(model="claude-does-not-exist"), meter)
    assert isinstance(failure.value.__cause__, anthropic.NotFoundError)
    assert monitor.requests == 1


async def test_sdk_retries_are_off_and_diagnostics_are_sent(
    claude: Claude, monitor: UpstreamMonitor
):
    await _answer(claude, _request(), CallMeter())
    sent = json.loads(monitor.bodies[0])
    assert sent["diagnostics"] == {"previous_message_id": None}
    assert not {"temperature", "top_p", "top_k"} & set(sent)


def _rate_limited(headers: dict[str, str]) -> anthropic.RateLimitError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/messages")
    response = httpx2.Response(429, headers=headers, request=request)
    return anthropic.RateLimitError("rate limited", response=response, body=None)


def test_retry_after_is_read_in_milliseconds_first_then_seconds():
    assert retry_after_seconds(_rate_limited({"retry-after": "2"})) == 2.0
    assert retry_after_seconds(_rate_limited({"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    assert retry_after_seconds(_rate_limited({})) is None
    assert retry_after_seconds(_rate_limited({"retry-after": "soon"})) is None


def test_retry_after_may_be_an_http_date():
    in_a_minute = formatdate(time.time() + 60, usegmt=True)
    assert 50 < (retry_after_seconds(_rate_limited({"retry-after": in_a_minute})) or 0) <= 61
