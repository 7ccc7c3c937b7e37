from __future__ import annotations

import typing

import anthropic
import httpx

from tests.emulator.material import (
    LIST_FACTS,
    MODEL,
    TUPLE_FACTS,
    question_turn,
    search_result,
)


def test_answer_quotes_the_most_relevant_sentence_with_a_search_result_citation(
    client: anthropic.Anthropic,
) -> None:
    lists = search_result("docs/lists.md", "Lists", LIST_FACTS)
    tuples = search_result("docs/tuples.md", "Tuples", TUPLE_FACTS)
    message = client.messages.create(
        model=MODEL,
        max_tokens=300,
        messages=[question_turn("How do I reverse a list in place?", tuples, lists)],
    )
    assert message.id.startswith("msg_")
    assert message.stop_reason == "end_turn"
    first = message.content[0]
    assert first.type == "text"
    assert first.text.startswith(LIST_FACTS[0])
    citation = first.citations[0]
    assert citation.type == "search_result_location"
    assert citation.search_result_index == 1
    assert (citation.start_block_index, citation.end_block_index) == (0, 1)
    assert citation.cited_text == LIST_FACTS[0]
    assert citation.source == "docs/lists.md"


def test_document_citations_point_at_the_exact_characters(client: anthropic.Anthropic) -> None:
    text = "Cats sleep a lot. Dogs bark at strangers. Birds sing at dawn."
    document = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": text},
        "title": "Animals",
        "citations": {"enabled": True},
    }
    message = client.messages.create(
        model=MODEL,
        max_tokens=300,
        messages=[question_turn("Why do dogs bark?", document)],
    )
    citation = message.content[0].citations[0]
    assert citation.type == "char_location"
    assert citation.cited_text == "Dogs bark at strangers."
    assert text[citation.start_char_index : citation.end_char_index] == citation.cited_text
    assert citation.document_index == 0


def test_citations_are_absent_unless_enabled(client: anthropic.Anthropic) -> None:
    lists = search_result("docs/lists.md", "Lists", LIST_FACTS, citations=False)
    message = client.messages.create(
        model=MODEL, max_tokens=300, messages=[question_turn("How do I reverse a list?", lists)]
    )
    assert message.content[0].citations is None
    assert LIST_FACTS[0] in message.content[0].text


def test_every_response_carries_a_request_id_header(emulator_url: str, api_key: str) -> None:
    response = httpx.post(
        f"{emulator_url}/v1/messages",
        headers={"x-api-key": api_key, "anthropic-version": "2023-06-01"},
        json={"model": MODEL, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")


def test_max_tokens_cuts_the_answer_and_says_so(client: anthropic.Anthropic) -> None:
    lists = search_result("docs/lists.md", "Lists", LIST_FACTS)
    message = client.messages.create(
        model=MODEL, max_tokens=3, messages=[question_turn("How do I reverse a list?", lists)]
    )
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens <= 3


def test_stop_sequence_ends_the_answer_where_it_appears(client: anthropic.Anthropic) -> None:
    lists = search_result("docs/lists.md", "Lists", LIST_FACTS)
    message = client.messages.create(
        model=MODEL,
        max_tokens=300,
        stop_sequences=["reversed"],
        messages=[question_turn("How do I reverse a list?", lists)],
    )
    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == "reversed"
    assert "reversed" not in "".join(b.text for b in message.content if b.type == "text")


async def test_async_client_gets_the_same_answer_as_the_sync_one(
    client: anthropic.Anthropic, async_client: anthropic.AsyncAnthropic
) -> None:
    request = {
        "model": MODEL,
        "max_tokens": 300,
        "messages": [
            question_turn("How do I reverse a list?", search_result("a", "A", LIST_FACTS))
        ],
    }
    sync_message = client.messages.create(**request)
    async_message = await async_client.messages.create(**request)
    assert [b.text for b in async_message.content] == [b.text for b in sync_message.content]
    assert async_message.usage.input_tokens == sync_message.usage.input_tokens


def test_models_lists_every_served_model_and_resolves_aliases(
    client: anthropic.Anthropic,
) -> None:
    ids = [model.id for model in client.models.list(limit=100)]
    assert "claude-sonnet-5-5" in ids
    assert "claude-haiku-4-5-20251001" in ids
    assert "claude-mythos-preview" not in ids  # retired
    assert client.models.retrieve("claude-haiku-4-5").id == "claude-haiku-4-5-20251001"
    first_page = client.models.list(limit=5)
    assert len(first_page.data) == 5
    assert first_page.has_more
    assert [m.id for m in client.models.list(limit=100)] == [m.id for m in client.models.list()]


def test_alias_requests_report_the_snapshot_they_ran_on(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.model == "claude-haiku-4-5-20251001"


def test_every_model_the_sdk_names_is_in_the_table(client: anthropic.Anthropic) -> None:
    literal = typing.get_args(anthropic.types.Model)[0]
    for model_id in typing.get_args(literal):
        info = client.models.retrieve(model_id)
        assert info.max_tokens
        assert info.capabilities is not None
