from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest

from api.emulator import EmulatorConfig, create_app
from api.serving import serve_in_thread
from tests.emulator.material import LIST_FACTS, MODEL, question_turn, search_result


def _request() -> dict[str, Any]:
    documents = search_result("docs/lists.md", "Lists", LIST_FACTS)
    return {
        "model": MODEL,
        "max_tokens": 300,
        "messages": [question_turn("How do I reverse a list?", documents)],
    }


def _fault(name: str) -> dict[str, Any]:
    return {"extra_headers": {"x-emulator-fault": name}}


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("rate_limit", anthropic.RateLimitError, 429),
        ("overloaded", anthropic.OverloadedError, 529),
        ("server_error", anthropic.InternalServerError, 500),
    ],
)
def test_status_faults_surface_as_the_sdk_exception_class(
    client: anthropic.Anthropic, fault: str, error: type[anthropic.APIStatusError], status: int
) -> None:
    with pytest.raises(error) as caught:
        client.messages.create(**_request(), **_fault(fault))
    assert caught.value.status_code == status
    assert caught.value.request_id is not None
    assert caught.value.body["request_id"] == caught.value.request_id


def test_rate_limit_says_when_to_retry(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(**_request(), **_fault("rate_limit"))
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.type == "rate_limit_error"


def test_overloaded_before_a_stream_is_the_overloaded_error(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.OverloadedError):  # noqa: SIM117
        with client.messages.stream(**_request(), **_fault("overloaded")) as stream:
            stream.get_final_message()


def test_a_dropped_connection_is_a_connection_error(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(**_request(), **_fault("disconnect"))
    with pytest.raises(anthropic.APIConnectionError):  # noqa: SIM117
        with client.messages.stream(**_request(), **_fault("disconnect")) as stream:
            stream.get_final_message()


async def test_a_dropped_connection_is_a_connection_error_for_async_clients(
    async_client: anthropic.AsyncAnthropic,
) -> None:
    with pytest.raises(anthropic.APIConnectionError):
        await async_client.messages.create(**_request(), **_fault("disconnect"))


def test_a_midstream_error_arrives_after_some_text(client: anthropic.Anthropic) -> None:
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:  # noqa: SIM117
        with client.messages.stream(**_request(), **_fault("midstream_error")) as stream:
            received.extend(stream.text_stream)
    assert received
    assert caught.value.status_code == 200
    assert caught.value.type == "overloaded_error"
    assert not isinstance(caught.value, anthropic.OverloadedError)


async def test_a_midstream_error_reaches_async_stream_helpers(
    async_client: anthropic.AsyncAnthropic,
) -> None:
    with pytest.raises(anthropic.APIStatusError):
        async with async_client.messages.stream(
            **_request(), **_fault("midstream_error")
        ) as stream:
            await stream.get_final_message()


def test_an_error_before_any_text_comes_right_after_message_start(
    client: anthropic.Anthropic,
) -> None:
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:  # noqa: SIM117
        with client.messages.stream(**_request(), **_fault("error_before_text")) as stream:
            seen.extend(event.type for event in stream)
    assert seen == ["message_start"]
    assert caught.value.type == "overloaded_error"


def test_a_cut_stream_ends_after_some_text_and_before_message_delta(
    client: anthropic.Anthropic,
) -> None:
    seen: list[str] = []
    # The SDK lets the transport's error through: the body ended mid-chunk.
    with pytest.raises(httpx2.RemoteProtocolError):  # noqa: SIM117
        with client.messages.stream(**_request(), **_fault("cut_midstream")) as stream:
            seen.extend(event.type for event in stream)
    assert "text" in seen
    assert "message_delta" not in seen


def test_an_unknown_fault_name_is_a_400(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(**_request(), **_fault("meteor"))


def _outcomes(seed: int, calls: int) -> list[str]:
    config = EmulatorConfig(fault_rate=0.5, seed=seed)
    outcomes = []
    with serve_in_thread(create_app(config)) as url:
        sdk = anthropic.Anthropic(base_url=url, api_key="sk-faults", max_retries=0)
        for _ in range(calls):
            try:
                sdk.messages.create(**_request())
                outcomes.append("ok")
            except anthropic.APIError as error:
                outcomes.append(type(error).__name__)
    return outcomes


def test_random_faults_follow_the_seed() -> None:
    first = _outcomes(seed=11, calls=16)
    assert first == _outcomes(seed=11, calls=16)
    assert "ok" in first
    assert set(first) - {"ok"}
    assert first != _outcomes(seed=12, calls=16)
