from __future__ import annotations

from typing import Any

import anthropic

from tests.emulator.material import MODEL, long_text

SYSTEM = [{"type": "text", "text": long_text(700, "rule"), "cache_control": {"type": "ephemeral"}}]
FIRST = [{"role": "user", "content": "How do I reverse a list?"}]


def _send(
    client: anthropic.Anthropic, previous: str | None, **request: Any
) -> anthropic.types.Message:
    request = {"model": MODEL, "system": SYSTEM, "messages": FIRST, **request}
    return client.messages.create(
        max_tokens=100, diagnostics={"previous_message_id": previous}, **request
    )


def _reason(message: anthropic.types.Message) -> dict[str, Any]:
    assert message.diagnostics is not None
    return message.diagnostics.model_dump()["cache_miss_reason"]


def test_first_turn_and_a_clean_follow_up_report_no_divergence(
    client: anthropic.Anthropic,
) -> None:
    first = _send(client, None)
    assert first.diagnostics is None
    follow_up = [
        *FIRST,
        {"role": "assistant", "content": first.content[0].text},
        {"role": "user", "content": "And in place?"},
    ]
    assert _send(client, first.id, messages=follow_up).diagnostics is None


def test_a_changed_system_prompt_is_named_with_the_tokens_it_cost(
    client: anthropic.Anthropic,
) -> None:
    first = _send(client, None)
    changed = [{**SYSTEM[0], "text": SYSTEM[0]["text"] + " today is Tuesday"}]
    second = _send(client, first.id, system=changed)
    whole_first = client.messages.count_tokens(model=MODEL, system=SYSTEM, messages=FIRST)
    assert _reason(second) == {
        "type": "system_changed",
        "cache_missed_input_tokens": whole_first.input_tokens,
    }


def test_model_tools_and_messages_changes_are_told_apart(client: anthropic.Anthropic) -> None:
    first = _send(client, None)
    assert _reason(_send(client, first.id, model="claude-opus-5"))["type"] == "model_changed"
    assert _reason(_send(client, first.id, speed="fast"))["type"] == "model_changed"
    tools = [{"name": "lookup", "input_schema": {"type": "object"}}]
    assert _reason(_send(client, first.id, tools=tools))["type"] == "tools_changed"
    edited = [{"role": "user", "content": "How do I sort a list?"}]
    assert _reason(_send(client, first.id, messages=edited))["type"] == "messages_changed"
    thinking = {"type": "adaptive"}
    assert _reason(_send(client, first.id, thinking=thinking))["type"] == "unavailable"


def test_an_unknown_or_foreign_message_id_is_not_found(
    client: anthropic.Anthropic, emulator_url: str
) -> None:
    first = _send(client, None)
    assert _reason(_send(client, "msg_01unknown"))["type"] == "previous_message_not_found"
    with anthropic.Anthropic(base_url=emulator_url, api_key="sk-other", max_retries=0) as other:
        assert _reason(_send(other, first.id))["type"] == "previous_message_not_found"


def test_requests_without_diagnostics_leave_no_fingerprint(client: anthropic.Anthropic) -> None:
    plain = client.messages.create(model=MODEL, max_tokens=50, system=SYSTEM, messages=FIRST)
    assert plain.diagnostics is None
    assert _reason(_send(client, plain.id))["type"] == "previous_message_not_found"
