from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx

from tests.emulator.material import LIST_FACTS, MODEL, question_turn, search_result


def _request() -> dict[str, Any]:
    documents = search_result("docs/lists.md", "Lists", LIST_FACTS)
    return {
        "model": MODEL,
        "max_tokens": 300,
        "messages": [
            question_turn("How do I reverse a list or get a reversed iterator?", documents)
        ],
    }


def _comparable(message: anthropic.types.Message) -> dict[str, Any]:
    return message.model_dump(exclude={"id"})


def test_stream_helpers_agree_with_the_plain_response(client: anthropic.Anthropic) -> None:
    plain = client.messages.create(**_request())
    with client.messages.stream(**_request()) as stream:
        streamed_text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed_text == "".join(b.text for b in plain.content if b.type == "text")
    assert _comparable(final) == _comparable(plain)
    assert len(final.content) == 2
    assert final.content[1].citations[0].cited_text == LIST_FACTS[1]


async def test_async_stream_helpers_agree_with_the_plain_response(
    async_client: anthropic.AsyncAnthropic,
) -> None:
    plain = await async_client.messages.create(**_request())
    async with async_client.messages.stream(**_request()) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert len(pieces) > 1
    assert _comparable(final) == _comparable(plain)


def _events(url: str, key: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    events = []
    headers = {"x-api-key": key, "anthropic-version": "2026-10-21"}
    with httpx.stream("POST", f"{url}/v1/messages", headers=headers, json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    for chunk in raw.split("\n\n"):
        if chunk.strip():
            event_line, data_line = chunk.split("\n")
            data = json.loads(data_line.removeprefix("data: "))
            events.append((event_line.removeprefix("event: "), data))
    return events


def test_stream_follows_the_documented_event_sequence(emulator_url: str, api_key: str) -> None:
    events = _events(emulator_url, api_key, {**_request(), "stream": True})
    names = [name for name, _ in events]
    assert all(name == data["type"] for name, data in events)
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["content"] == []
    assert start["stop_reason"] is None
    assert start["usage"]["input_tokens"] > 0
    delta_types = {d["delta"]["type"] for n, d in events if n == "content_block_delta"}
    assert delta_types == {"text_delta", "citations_delta"}
    assert names.count("content_block_start") == names.count("content_block_stop") == 2
    final = events[-2][1]
    assert final["delta"]["stop_reason"] == "end_turn"
    assert final["usage"]["output_tokens"] > start["usage"]["output_tokens"]
