"""Recorded real API traffic replayed against the emulator through the real SDK over HTTP.

Each case is a request the real API answered (recorded/SOURCE.md says where from). The
emulator must answer it with the same status, the same keys with the same JSON types, the same
error body, the same stream event sequence, the block sequence where the API leaves the model
no choice, and a prompt size within the tolerance of its kind below.

What the emulator cannot reproduce, because it is the model's behaviour and not the API's, is
not compared: the text, the tool arguments, whether an `auto` tool_choice calls a tool or
answers, how many tools a turn calls, how long the thinking and the answer are
(`output_tokens`), and how the prompt splits between cache reads, writes and plain input
(that depends on what an earlier run left in the real cache; the total does not).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from api.emulator import EmulatorConfig, create_app
from api.serving import serve_in_thread

RECORDED = json.loads(
    (Path(__file__).parent / "recorded" / "pydantic_ai_anthropic.json").read_text()
)
CASES = RECORDED["cases"]

# How far the emulator's prompt size may be from the real one, by kind of request. Prose and
# thinking are counted within a few percent; the tool-use system prompt varies with the tools
# in ways one figure per generation cannot follow (strict tools and deferred loading add more).
TOLERANCE = {"prose": 0.10, "thinking": 0.10, "json_format": 0.15, "tools": 0.35}
# A one-line prompt is a dozen tokens; a percentage of it is less than one token.
MIN_TOLERANCE_TOKENS = 3

# Models the recordings used that are retired or that the emulator's table does not serve are
# replayed on a served model of the same generation (same thinking modes, same tool prompt).
REPLAYED_ON = {
    "claude-sonnet-4-5": "claude-haiku-4-5",
    "claude-sonnet-4-5-20250929": "claude-haiku-4-5",
    "claude-sonnet-4-0": "claude-haiku-4-5",
}

# Blocks whose sequence the API fixes: a forced tool is one tool_use; JSON output is one text.
_FORCED = ("any", "tool")


@pytest.fixture(scope="module")
def client() -> Iterator[anthropic.Anthropic]:
    with (
        serve_in_thread(create_app(EmulatorConfig(seed=7))) as url,
        anthropic.Anthropic(base_url=url, api_key="sk-replay", max_retries=0) as sdk,
    ):
        yield sdk


def _request(case: dict[str, Any]) -> dict[str, Any]:
    request = dict(case["request"])
    request["model"] = REPLAYED_ON.get(request["model"], request["model"])
    request.pop("stream", None)
    return request


def _json_type(value: Any) -> str:
    return type(value).__name__


def _assert_same_shape(recorded: Any, replayed: Any, where: str) -> None:
    """Every key the real API sent is sent, with a value of the same JSON type."""
    if isinstance(recorded, dict):
        assert isinstance(replayed, dict), f"{where}: {replayed!r} is not an object"
        for key, value in recorded.items():
            assert key in replayed, f"{where}.{key} is missing"
            _assert_same_shape(value, replayed[key], f"{where}.{key}")
    elif recorded is not None and not isinstance(recorded, list):
        numbers = (int, float)
        same = isinstance(replayed, numbers) if isinstance(recorded, numbers) else None
        assert same if same is not None else _json_type(recorded) == _json_type(replayed), (
            f"{where}: {replayed!r} is not a {_json_type(recorded)}"
        )


def _prompt_tokens(usage: dict[str, Any]) -> int:
    return int(
        usage["input_tokens"]
        + (usage.get("cache_creation_input_tokens") or 0)
        + (usage.get("cache_read_input_tokens") or 0)
    )


def _assert_close(kind: str, real: int, emulated: int) -> None:
    tolerance = TOLERANCE[kind]
    assert abs(emulated - real) <= max(tolerance * real, MIN_TOLERANCE_TOKENS), (
        f"{kind}: emulator counts {emulated}, the real API {real} (tolerance {tolerance:.0%})"
    )


def _assert_same_blocks(case: dict[str, Any], recorded: list[Any], replayed: list[Any]) -> None:
    request = case["request"]
    by_type = {block["type"]: block for block in replayed}
    for block in recorded:
        if block["type"] in by_type:
            # A tool's arguments are the model's choice; the schema, not the recording, binds them.
            shape = {k: v for k, v in block.items() if k != "input"}
            _assert_same_shape(shape, by_type[block["type"]], f"content[{block['type']}]")
    if (request.get("tool_choice") or {}).get("type") in _FORCED:
        assert [b["type"] for b in replayed] == [b["type"] for b in recorded]
    if (request.get("output_config") or {}).get("format"):
        assert [b["type"] for b in replayed] == ["text"]
        json.loads(replayed[0]["text"])
    if (request.get("thinking") or {}).get("type") == "enabled":
        assert replayed[0]["type"] == recorded[0]["type"] == "thinking"
    for block in replayed:
        if block["type"] == "text" and not block.get("citations"):
            assert "citations" not in block, "the real API omits citations a block has not got"


def _event_kind(event: dict[str, Any]) -> str:
    part = event.get("content_block") or event.get("delta") or {}
    return f"{event['type']}:{part.get('type', '')}"


def _collapsed(events: list[dict[str, Any]]) -> list[str]:
    """Event types and block types, each run of deltas as one, pings left out."""
    names: list[str] = []
    for event in events:
        name = event["type"]
        if name == "content_block_start":
            name += ":" + event["content_block"]["type"]
        if name == "ping" or (names and name == names[-1] == "content_block_delta"):
            continue
        names.append(name)
    return names


def _replay_error(client: anthropic.Anthropic, case: dict[str, Any]) -> None:
    send = client.messages.count_tokens if case["endpoint"] == "count_tokens" else None
    with pytest.raises(anthropic.APIStatusError) as caught:
        (send or client.messages.create)(**_request(case))
    assert caught.value.status_code == case["status"]
    body = caught.value.body
    assert isinstance(body, dict)
    _assert_same_shape(case["response"], body, "error")
    assert body["error"] == case["response"]["error"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_recorded_exchange_replays_with_the_same_shape_and_counts(
    client: anthropic.Anthropic, case: dict[str, Any]
) -> None:
    kind = case["kind"]
    if case["status"] != 200:
        _replay_error(client, case)
        return
    request = _request(case)
    if case["endpoint"] == "count_tokens":
        counted = client.messages.count_tokens(**request)
        assert counted.input_tokens > 0
        _assert_close(kind, case["response"]["input_tokens"], counted.input_tokens)
        return
    if "events" in case:
        recorded_events = [event["data"] for event in case["events"]]
        with client.messages.create(**request, stream=True) as stream:
            events = [event.to_dict() for event in stream]
        assert _collapsed(events) == _collapsed(recorded_events)
        emulated_by_kind = {_event_kind(event): event for event in events}
        for real in recorded_events:
            if real["type"] != "ping":
                _assert_same_shape(real, emulated_by_kind.get(_event_kind(real)), real["type"])
        _assert_close(
            kind,
            _prompt_tokens(recorded_events[0]["message"]["usage"]),
            _prompt_tokens(events[0]["message"]["usage"]),
        )
        return
    raw = client.messages.with_raw_response.create(**request)
    assert raw.http_response.status_code == 200
    replayed = raw.http_response.json()
    recorded = case["response"]
    _assert_same_shape({k: v for k, v in recorded.items() if k != "content"}, replayed, "message")
    _assert_same_blocks(case, recorded["content"], replayed["content"])
    _assert_close(kind, _prompt_tokens(recorded["usage"]), _prompt_tokens(replayed["usage"]))
