from __future__ import annotations

import asyncio
import threading
from typing import Any

import anthropic
import pytest

from api.emulator import EmulatorConfig, ScaledClock, create_app
from api.serving import serve_in_thread
from tests.emulator.material import LIST_FACTS, MODEL, long_text, question_turn, search_result

SYSTEM_TEXT = long_text(700, "rule")


def _system(text: str = SYSTEM_TEXT, ttl: str = "5m") -> list[dict[str, Any]]:
    return [{"type": "text", "text": text, "cache_control": {"type": "ephemeral", "ttl": ttl}}]


def _ask(
    client: anthropic.Anthropic, *, system: Any = None, model: str = MODEL, **extra: Any
) -> anthropic.types.Message:
    messages = extra.pop("messages", [{"role": "user", "content": "How do I reverse a list?"}])
    return client.messages.create(
        model=model, max_tokens=200, system=system or _system(), messages=messages, **extra
    )


def _count(client: anthropic.Anthropic, **request: Any) -> int:
    request.pop("max_tokens", None)
    return client.messages.count_tokens(**request).input_tokens


def _prompt_size(client: anthropic.Anthropic, system: Any, model: str = MODEL) -> int:
    messages = [{"role": "user", "content": "How do I reverse a list?"}]
    return _count(client, model=model, system=system, messages=messages)


def _question_only(client: anthropic.Anthropic, model: str = MODEL) -> int:
    messages = [{"role": "user", "content": "How do I reverse a list?"}]
    return _count(client, model=model, messages=messages)


def test_first_call_writes_the_prefix_and_a_repeat_reads_the_same_count(
    client: anthropic.Anthropic,
) -> None:
    total = _prompt_size(client, _system())
    after_breakpoint = _question_only(client)
    system_tokens = total - after_breakpoint

    first = _ask(client).usage
    assert first.cache_creation_input_tokens == system_tokens
    assert first.cache_creation.ephemeral_5m_input_tokens == system_tokens
    assert first.cache_creation.ephemeral_1h_input_tokens == 0
    assert first.cache_read_input_tokens == 0
    assert first.input_tokens == after_breakpoint

    second = _ask(client).usage
    assert second.cache_read_input_tokens == system_tokens
    assert second.cache_creation_input_tokens == 0
    assert second.input_tokens == after_breakpoint


def test_tokens_add_up_to_count_tokens_for_the_same_request(client: anthropic.Anthropic) -> None:
    for _ in range(2):
        usage = _ask(client).usage
        whole = usage.input_tokens + usage.cache_creation_input_tokens
        assert whole + usage.cache_read_input_tokens == _prompt_size(client, _system())


def test_a_prefix_below_the_model_minimum_caches_nothing(client: anthropic.Anthropic) -> None:
    short = _system(long_text(100))
    for _ in range(2):
        usage = _ask(client, system=short).usage
        assert usage.cache_creation_input_tokens == 0
        assert usage.cache_read_input_tokens == 0
        assert usage.input_tokens == _prompt_size(client, short)


def test_the_minimum_differs_by_model(client: anthropic.Anthropic) -> None:
    mid = _system(long_text(600))
    assert 1024 < _prompt_size(client, mid) < 4096
    assert _ask(client, system=mid, model="claude-sonnet-5-5").usage.cache_creation_input_tokens
    with pytest.warns(DeprecationWarning, match="deprecated"):
        opus = _ask(client, system=mid, model="claude-opus-4-5").usage
    assert opus.cache_creation_input_tokens == 0


def test_with_two_breakpoints_only_the_unchanged_first_layer_hits(
    client: anthropic.Anthropic,
) -> None:
    def turn(facts: list[str]) -> list[dict[str, Any]]:
        documents = search_result("docs/a.md", "A", [*facts, long_text(600, "doc")])
        documents["cache_control"] = {"type": "ephemeral"}
        return [question_turn("How do I reverse a list?", documents)]

    system_tokens = _prompt_size(client, _system()) - _question_only(client)
    first = _ask(client, messages=turn(LIST_FACTS)).usage
    assert first.cache_read_input_tokens == 0
    second = _ask(client, messages=turn(LIST_FACTS[:1])).usage
    assert second.cache_read_input_tokens == system_tokens
    assert second.cache_creation_input_tokens > 0
    whole = _count(client, model=MODEL, system=_system(), messages=turn(LIST_FACTS[:1]))
    assert second.cache_creation_input_tokens == whole - system_tokens - second.input_tokens


def test_a_one_character_change_misses(client: anthropic.Anthropic) -> None:
    _ask(client)
    changed = _system(SYSTEM_TEXT[:-1] + "X")
    usage = _ask(client, system=changed).usage
    assert usage.cache_read_input_tokens == 0
    assert usage.cache_creation_input_tokens > 0


def test_caches_are_isolated_per_api_key(client: anthropic.Anthropic, emulator_url: str) -> None:
    _ask(client)
    with anthropic.Anthropic(base_url=emulator_url, api_key="sk-other", max_retries=0) as other:
        assert _ask(other).usage.cache_read_input_tokens == 0


def test_more_than_four_breakpoints_are_rejected_verbatim(client: anthropic.Anthropic) -> None:
    marked = {"type": "ephemeral"}
    blocks = [{"type": "text", "text": f"part {i}", "cache_control": marked} for i in range(5)]
    with pytest.raises(anthropic.BadRequestError) as caught:
        _ask(client, system=blocks)
    assert caught.value.body["error"]["message"] == (
        "A maximum of 4 blocks with cache_control may be provided. Found 5."
    )
    with pytest.raises(anthropic.BadRequestError):
        _ask(client, system=blocks[:4], cache_control=marked)


def test_a_1h_breakpoint_after_a_5m_one_is_rejected(client: anthropic.Anthropic) -> None:
    late = {"type": "text", "text": "later", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "q"}, late]}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        _ask(client, messages=messages)
    assert caught.value.body["error"]["message"].startswith(
        "messages.0.content.1.cache_control.ttl: a ttl='1h' cache_control block must not come "
        "after a ttl='5m' cache_control block."
    )


def test_mixed_ttls_bill_1h_up_to_its_breakpoint_and_5m_after(client: anthropic.Anthropic) -> None:
    documents = search_result("docs/a.md", "A", [long_text(600, "doc")])
    documents["cache_control"] = {"type": "ephemeral", "ttl": "5m"}
    messages = [question_turn("How do I reverse a list?", documents)]
    system_tokens = _prompt_size(client, _system()) - _question_only(client)
    usage = _ask(client, system=_system(ttl="1h"), messages=messages).usage
    assert usage.cache_creation.ephemeral_1h_input_tokens == system_tokens
    assert usage.cache_creation.ephemeral_5m_input_tokens > 600
    assert usage.cache_creation_input_tokens == system_tokens + (
        usage.cache_creation.ephemeral_5m_input_tokens
    )


def test_entries_expire_after_their_ttl_and_reads_refresh_them(
    client: anthropic.Anthropic, clock: ScaledClock
) -> None:
    _ask(client)
    clock.advance(200)
    assert _ask(client).usage.cache_read_input_tokens > 0  # refreshed: lives until t=500
    clock.advance(200)
    assert _ask(client).usage.cache_read_input_tokens > 0
    clock.advance(301)
    expired = _ask(client).usage
    assert expired.cache_read_input_tokens == 0
    assert expired.cache_creation_input_tokens > 0


def test_a_1h_entry_outlives_five_minutes(client: anthropic.Anthropic, clock: ScaledClock) -> None:
    _ask(client, system=_system(ttl="1h"))
    clock.advance(1800)
    assert _ask(client, system=_system(ttl="1h")).usage.cache_read_input_tokens > 0
    clock.advance(3601)
    assert _ask(client, system=_system(ttl="1h")).usage.cache_read_input_tokens == 0


def test_a_1h_mark_on_a_live_5m_entry_reads_it_and_leaves_it_5m(
    client: anthropic.Anthropic, clock: ScaledClock
) -> None:
    _ask(client)
    clock.advance(60)
    read = _ask(client, system=_system(ttl="1h")).usage
    assert read.cache_read_input_tokens > 0
    assert read.cache_creation_input_tokens == 0
    clock.advance(301)
    assert _ask(client, system=_system(ttl="1h")).usage.cache_read_input_tokens == 0


def test_time_scale_runs_the_cache_clock_faster(api_key: str) -> None:
    fast = ScaledClock(time_scale=3000)
    with serve_in_thread(create_app(EmulatorConfig(time_scale=3000), clock=fast)) as url:
        sdk = anthropic.Anthropic(base_url=url, api_key=api_key, max_retries=0)
        _ask(sdk)
        written_at = fast.now()  # the entry was written before this moment
        waited = threading.Event()
        while fast.now() < written_at + 301:
            waited.wait(0.01)
        assert _ask(sdk).usage.cache_read_input_tokens == 0


def test_the_lookback_reaches_20_blocks_back_and_no_further(client: anthropic.Anthropic) -> None:
    def blocks(count: int) -> list[dict[str, Any]]:
        made = [{"type": "text", "text": long_text(60, f"b{i}x")} for i in range(count)]
        made[-1]["cache_control"] = {"type": "ephemeral"}
        return made

    def read(count: int) -> int:
        messages = [{"role": "user", "content": blocks(count)}]
        return _ask(client, messages=messages, system="plain").usage.cache_read_input_tokens

    assert read(10) == 0
    assert read(29) > 0  # checks blocks 29..10: finds the entry written at block 10
    assert read(31) > 0  # finds the entry written at 29
    assert read(31 + 21) == 0  # 51..32 misses the entry at 31 (position 30)


def test_automatic_caching_moves_the_breakpoint_forward(client: anthropic.Anthropic) -> None:
    history = [{"role": "user", "content": long_text(700, "talk")}]
    first = _ask(client, system="plain", messages=history, cache_control={"type": "ephemeral"})
    assert first.usage.cache_creation_input_tokens > 0
    history += [
        {"role": "assistant", "content": first.content[0].text},
        {"role": "user", "content": "And in place?"},
    ]
    second = _ask(client, system="plain", messages=history, cache_control={"type": "ephemeral"})
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens > 0


def test_changing_tool_choice_keeps_tools_and_system_cached(client: anthropic.Anthropic) -> None:
    tools = [{"name": "lookup", "description": "Look up.", "input_schema": {"type": "object"}}]
    question = {"type": "text", "text": long_text(600, "q"), "cache_control": {"type": "ephemeral"}}
    messages = [{"role": "user", "content": [question]}]
    _ask(client, tools=tools, messages=messages, tool_choice={"type": "auto"})
    usage = _ask(client, tools=tools, messages=messages, tool_choice={"type": "none"}).usage
    tools_and_system = _count(client, model=MODEL, tools=tools, system=_system(), messages=messages)
    assert usage.cache_read_input_tokens == tools_and_system - _count(
        client, model=MODEL, messages=messages
    )


async def test_an_entry_is_readable_only_once_its_writer_has_begun(api_key: str) -> None:
    with serve_in_thread(create_app(EmulatorConfig(ttft_ms=400))) as url:
        async with anthropic.AsyncAnthropic(base_url=url, api_key=api_key, max_retries=0) as sdk:
            request = {
                "model": MODEL,
                "max_tokens": 50,
                "system": _system(),
                "messages": [{"role": "user", "content": "hi"}],
            }
            together = await asyncio.gather(*(sdk.messages.create(**request) for _ in range(2)))
            assert [m.usage.cache_read_input_tokens for m in together] == [0, 0]
            assert all(m.usage.cache_creation_input_tokens > 0 for m in together)
            later = await sdk.messages.create(**request)
            assert (
                later.usage.cache_read_input_tokens == together[0].usage.cache_creation_input_tokens
            )


async def test_concurrent_readers_all_hit(async_client: anthropic.AsyncAnthropic) -> None:
    request = {
        "model": MODEL,
        "max_tokens": 50,
        "system": _system(),
        "messages": [{"role": "user", "content": "hi"}],
    }
    written = (await async_client.messages.create(**request)).usage.cache_creation_input_tokens
    results = await asyncio.gather(*(async_client.messages.create(**request) for _ in range(8)))
    assert {m.usage.cache_read_input_tokens for m in results} == {written}


def test_automatic_caching_must_agree_with_an_explicit_mark_on_the_last_block(
    client: anthropic.Anthropic,
) -> None:
    marked = {"type": "text", "text": "q", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    messages = [{"role": "user", "content": [marked]}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        _ask(client, system="plain", messages=messages, cache_control={"type": "ephemeral"})
    assert caught.value.body["error"]["message"].startswith(
        "messages.0.content.0.cache_control.ttl"
    )
    same = _ask(
        client,
        system="plain",
        messages=messages,
        cache_control={"type": "ephemeral", "ttl": "1h"},
    )
    assert same.stop_reason == "end_turn"
