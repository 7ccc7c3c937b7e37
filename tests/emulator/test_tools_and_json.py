from __future__ import annotations

import json
from typing import Any

import anthropic
import jsonschema
import pydantic
import pytest

from tests.emulator.material import LIST_FACTS, MODEL, question_turn, search_result

RECORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "$defs": {"level": {"type": "string", "enum": ["low", "medium", "high"]}},
    "properties": {
        "answer": {"type": "string", "minLength": 5},
        "sources": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "priority": {"$ref": "#/$defs/level"},
        "count": {"type": "integer", "minimum": 3, "maximum": 9, "multipleOf": 3},
        "when": {"type": "string", "format": "date"},
        "note": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 4}]},
        "nested": {
            "type": "object",
            "properties": {"flag": {"type": "boolean"}, "tags": {"type": "array", "maxItems": 2}},
            "required": ["flag"],
            "additionalProperties": False,
        },
    },
    "required": ["answer", "sources", "confidence", "priority", "count", "when", "nested"],
    "additionalProperties": False,
}
SEARCH_TOOL = {
    "name": "search_documents",
    "description": "Search the user's documents.",
    "input_schema": {
        "type": "object",
        "properties": {"query": {"type": "string"}, "top_k": {"type": "integer", "minimum": 1}},
        "required": ["query"],
    },
}
RECORD_TOOL = {"name": "record_answer", "description": "Record.", "input_schema": RECORD_SCHEMA}


def _documents() -> dict[str, Any]:
    return search_result("docs/lists.md", "Lists", LIST_FACTS)


def test_forced_tool_use_returns_input_valid_for_the_schema(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=500,
        tools=[SEARCH_TOOL, RECORD_TOOL],
        tool_choice={"type": "tool", "name": "record_answer"},
        messages=[question_turn("How do I reverse a list?", _documents())],
    )
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["tool_use"]
    call = message.content[0]
    assert call.id.startswith("toolu_")
    assert call.name == "record_answer"
    jsonschema.validate(call.input, RECORD_SCHEMA)
    assert call.input["sources"] == ["docs/lists.md"]


def test_tool_choice_any_uses_the_most_relevant_tool(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=500,
        tools=[RECORD_TOOL, SEARCH_TOOL],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Search for list reversal"}],
    )
    assert message.content[-1].name == "search_documents"
    jsonschema.validate(message.content[-1].input, SEARCH_TOOL["input_schema"])


def test_auto_calls_search_when_asked_then_answers_from_the_tool_result(
    client: anthropic.Anthropic,
) -> None:
    question = [{"role": "user", "content": "Search the documents: how do I reverse a list?"}]
    first = client.messages.create(
        model=MODEL, max_tokens=500, tools=[SEARCH_TOOL], messages=question
    )
    assert first.stop_reason == "tool_use"
    call = first.content[-1]
    assert call.input["query"] == question[0]["content"]
    result = {"type": "tool_result", "tool_use_id": call.id, "content": [_documents()]}
    conversation = [
        *question,
        first.to_param(),
        {"role": "user", "content": [result]},
    ]
    final = client.messages.create(
        model=MODEL, max_tokens=500, tools=[SEARCH_TOOL], messages=conversation
    )
    assert final.stop_reason == "end_turn"
    assert final.content[0].citations[0].cited_text == LIST_FACTS[0]


def test_auto_answers_directly_when_no_tool_is_asked_for(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=500,
        tools=[RECORD_TOOL],
        messages=[question_turn("How do I reverse a list?", _documents())],
    )
    assert message.stop_reason == "end_turn"
    assert all(block.type == "text" for block in message.content)


def test_streamed_tool_input_arrives_as_json_deltas(client: anthropic.Anthropic) -> None:
    request = {
        "model": MODEL,
        "max_tokens": 500,
        "tools": [RECORD_TOOL],
        "tool_choice": {"type": "tool", "name": "record_answer"},
        "messages": [question_turn("How do I reverse a list?", _documents())],
    }
    plain = client.messages.create(**request)
    with client.messages.stream(**request) as stream:
        json_parts = [e.partial_json for e in stream if e.type == "input_json"]
        final = stream.get_final_message()
    assert len(json_parts) > 1
    assert final.content[0].input == plain.content[0].input


def test_json_output_is_valid_for_the_schema(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=800,
        output_config={"format": {"type": "json_schema", "schema": RECORD_SCHEMA}},
        messages=[question_turn("How do I reverse a list?", _documents())],
    )
    document = json.loads(message.content[0].text)
    jsonschema.validate(document, RECORD_SCHEMA)
    assert LIST_FACTS[0] in document["answer"]


class Verdict(pydantic.BaseModel):
    answer: str
    sources: list[str]
    confidence: float


def test_sdk_parse_helper_gets_a_validated_model(client: anthropic.Anthropic) -> None:
    parsed = client.messages.parse(
        model=MODEL,
        max_tokens=800,
        output_format=Verdict,
        messages=[question_turn("How do I reverse a list?", _documents())],
    )
    assert isinstance(parsed.parsed_output, Verdict)
    assert parsed.parsed_output.sources == ["docs/lists.md"]


def test_tool_choice_naming_an_absent_tool_is_rejected(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(
            model=MODEL,
            max_tokens=50,
            tools=[SEARCH_TOOL],
            tool_choice={"type": "tool", "name": "missing"},
            messages=[{"role": "user", "content": "hi"}],
        )


def test_count_tokens_matches_the_usage_of_the_same_request(client: anthropic.Anthropic) -> None:
    request: dict[str, Any] = {
        "model": MODEL,
        "tools": [SEARCH_TOOL, {**RECORD_TOOL, "cache_control": {"type": "ephemeral"}}],
        "system": "Answer from the documents only.",
        "messages": [question_turn("How do I reverse a list?", _documents())],
    }
    counted = client.messages.count_tokens(**request).input_tokens
    for _ in range(2):
        usage = client.messages.create(max_tokens=300, **request).usage
        spent = usage.input_tokens + usage.cache_creation_input_tokens
        assert spent + usage.cache_read_input_tokens == counted


def test_auto_searches_when_there_is_nothing_to_answer_from(client: anthropic.Anthropic) -> None:
    bare = [{"role": "user", "content": "How do I reverse a list?"}]
    message = client.messages.create(
        model=MODEL, max_tokens=500, tools=[SEARCH_TOOL], messages=bare
    )
    assert message.stop_reason == "tool_use"
    assert message.content[-1].name == "search_documents"
    supplied = [question_turn("How do I reverse a list?", _documents())]
    answered = client.messages.create(
        model=MODEL, max_tokens=500, tools=[SEARCH_TOOL], messages=supplied
    )
    assert answered.stop_reason == "end_turn"
