from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.emulator.material import LIST_FACTS, MODEL, question_turn, search_result

HAIKU = "claude-haiku-4-5"  # manual budget only
SONNET_5 = "claude-sonnet-5"  # adaptive only


def _question() -> list[dict[str, Any]]:
    documents = search_result("docs/lists.md", "Lists", LIST_FACTS)
    return [question_turn("How do I reverse a list?", documents)]


def test_budget_thinking_returns_a_signed_thinking_block_first(
    client: anthropic.Anthropic,
) -> None:
    message = client.messages.create(
        model=HAIKU,
        max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=_question(),
    )
    thinking, answer = message.content[0], message.content[1]
    assert thinking.type == "thinking"
    assert thinking.thinking
    assert thinking.signature
    assert answer.type == "text"
    details = message.usage.output_tokens_details
    assert 0 < details.thinking_tokens < message.usage.output_tokens


def test_adaptive_thinking_with_effort_on_a_current_model(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=2000,
        thinking={"type": "adaptive"},
        output_config={"effort": "high"},
        messages=_question(),
    )
    assert message.content[0].type == "thinking"
    low = client.messages.create(
        model=MODEL,
        max_tokens=2000,
        thinking={"type": "adaptive"},
        output_config={"effort": "low"},
        messages=_question(),
    )
    assert all(block.type != "thinking" for block in low.content)


def test_omitted_display_keeps_only_the_signature(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=2000,
        thinking={"type": "adaptive", "display": "omitted"},
        messages=_question(),
    )
    assert message.content[0].thinking == ""
    assert message.content[0].signature
    assert message.usage.output_tokens_details.thinking_tokens > 0


def test_streamed_thinking_matches_the_plain_response(client: anthropic.Anthropic) -> None:
    request = {
        "model": HAIKU,
        "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": _question(),
    }
    plain = client.messages.create(**request)
    with client.messages.stream(**request) as stream:
        kinds = {event.type for event in stream}
        final = stream.get_final_message()
    assert {"thinking", "signature"} <= kinds
    assert final.content[0].thinking == plain.content[0].thinking
    assert final.content[0].signature == plain.content[0].signature
    assert final.usage.output_tokens_details.thinking_tokens > 0


@pytest.mark.parametrize(
    ("model", "thinking", "extra", "message"),
    [
        (
            SONNET_5,
            {"type": "enabled", "budget_tokens": 2000},
            {},
            '"thinking.type.enabled" is not supported for this model.',
        ),
        (HAIKU, {"type": "adaptive"}, {}, '"thinking.type.adaptive" is not supported'),
        (
            HAIKU,
            {"type": "enabled", "budget_tokens": 512},
            {},
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
        ),
        (
            HAIKU,
            {"type": "enabled", "budget_tokens": 4000},
            {},
            "`max_tokens` must be greater than `thinking.budget_tokens`.",
        ),
        (
            HAIKU,
            {"type": "enabled", "budget_tokens": 1024},
            {
                "tools": [{"name": "t", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "any"},
            },
            "Thinking may not be enabled when tool_choice forces tool use.",
        ),
    ],
)
def test_invalid_thinking_combinations_are_400(
    client: anthropic.Anthropic,
    model: str,
    thinking: dict[str, Any],
    extra: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model=model,
            max_tokens=4000,
            thinking=thinking,
            messages=[{"role": "user", "content": "hi"}],
            **extra,
        )
    assert message in caught.value.body["error"]["message"]


def test_effort_levels_follow_the_model(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            output_config={"effort": "xhigh"},
            messages=[{"role": "user", "content": "hi"}],
        )
    assert caught.value.body["error"]["message"] == (
        "This model does not support effort level 'xhigh'. "
        "Supported levels: high, low, max, medium."
    )


def test_adaptive_thinking_with_a_forced_tool_calls_the_tool_without_thinking(
    client: anthropic.Anthropic,
) -> None:
    tool = {"name": "final_result", "input_schema": {"type": "object"}}
    message = client.messages.create(
        model="claude-opus-4-6",
        max_tokens=4000,
        thinking={"type": "adaptive"},
        output_config={"effort": "high"},
        tools=[tool],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "What is the capital of France?"}],
    )
    assert [block.type for block in message.content] == ["tool_use"]
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens_details.thinking_tokens == 0


def test_thinking_blocks_round_trip_in_a_tool_loop_but_not_edited(
    client: anthropic.Anthropic,
) -> None:
    tool = {
        "name": "search_documents",
        "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
    }
    question = [{"role": "user", "content": "Search the documents for list reversal"}]
    first = client.messages.create(
        model=HAIKU,
        max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=[tool],
        messages=question,
    )
    call = first.content[-1]
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": call.id, "content": LIST_FACTS[0]}],
    }
    conversation = [*question, first.to_param(), result]
    follow = client.messages.create(
        model=HAIKU,
        max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=[tool],
        messages=conversation,
    )
    assert follow.stop_reason == "end_turn"
    blocks = [block.model_dump() for block in first.content]
    edited = {"role": "assistant", "content": [{**blocks[0], "thinking": "edited"}, *blocks[1:]]}
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model=HAIKU,
            max_tokens=4000,
            thinking={"type": "enabled", "budget_tokens": 1024},
            tools=[tool],
            messages=[*question, edited, result],
        )
    assert "cannot be modified" in caught.value.body["error"]["message"]
