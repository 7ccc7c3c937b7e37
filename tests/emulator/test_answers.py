"""Answers come from all the text a request supplies; citations only from citable blocks.

The prompts below are the ones the stock chains send: LangChain's retrieval chain puts the
passages in the system prompt, LlamaIndex's default text-QA template puts them and the query
into one user text block.
"""

from __future__ import annotations

import anthropic

from tests.emulator.material import LIST_FACTS, MODEL, TUPLE_FACTS, question_turn, search_result

PASSAGES = " ".join([*LIST_FACTS, *TUPLE_FACTS, "Dictionaries keep insertion order."])

LANGCHAIN_SYSTEM = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved "
    "context to answer the question. If you don't know the answer, say that you don't know. "
    "Use three sentences maximum and keep the answer concise.\n\n" + PASSAGES
)

LLAMAINDEX_QA = (
    "Context information is below.\n---------------------\n"
    + PASSAGES
    + "\n---------------------\nGiven the context information and not prior knowledge, "
    "answer the query.\nQuery: {query}\nAnswer: "
)


def _text_of(message: anthropic.types.Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


def test_context_in_the_system_prompt_answers_the_question(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=300,
        system=LANGCHAIN_SYSTEM,
        messages=[{"role": "user", "content": "Do dictionaries keep their order?"}],
    )
    assert _text_of(message) == "Dictionaries keep insertion order."
    assert all(block.citations is None for block in message.content if block.type == "text")


def test_context_and_query_in_one_user_block_answer_the_query_alone(
    client: anthropic.Anthropic,
) -> None:
    prompt = LLAMAINDEX_QA.format(query="Can tuples be reversed in place?")
    message = client.messages.create(
        model=MODEL, max_tokens=300, messages=[{"role": "user", "content": prompt}]
    )
    text = _text_of(message)
    assert text.startswith(TUPLE_FACTS[0])
    assert "Query:" not in text
    assert "Context information is below" not in text


def test_a_question_after_a_paragraph_of_context_is_the_last_paragraph(
    client: anthropic.Anthropic,
) -> None:
    prompt = f"Here are my notes.\n\n{PASSAGES}\n\nWhat does the reversed function return?"
    message = client.messages.create(
        model=MODEL, max_tokens=300, messages=[{"role": "user", "content": prompt}]
    )
    assert _text_of(message).startswith(LIST_FACTS[1])


def test_quoted_search_results_answer_before_instructions_in_the_system_prompt(
    client: anthropic.Anthropic,
) -> None:
    lists = search_result("docs/lists.md", "Lists", LIST_FACTS)
    message = client.messages.create(
        model=MODEL,
        max_tokens=300,
        system="Cite the search results when you reverse a list of facts into an answer.",
        messages=[question_turn("How do I reverse a list in place?", lists)],
    )
    first = message.content[0]
    assert first.type == "text"
    assert first.text.startswith(LIST_FACTS[0])
    assert first.citations is not None
    assert first.citations[0].source == "docs/lists.md"
    assert "Cite the search results" not in _text_of(message)


def test_inline_context_is_used_when_no_quoted_block_matches(client: anthropic.Anthropic) -> None:
    tuples = search_result("docs/tuples.md", "Tuples", TUPLE_FACTS)
    message = client.messages.create(
        model=MODEL,
        max_tokens=300,
        system=LANGCHAIN_SYSTEM,
        messages=[question_turn("Do dictionaries keep their order?", tuples)],
    )
    assert _text_of(message) == "Dictionaries keep insertion order."
    assert all(block.citations is None for block in message.content if block.type == "text")


def test_tool_results_answer_without_citations(client: anthropic.Anthropic) -> None:
    tool = {"name": "lookup", "description": "Look a fact up.", "input_schema": {"type": "object"}}
    message = client.messages.create(
        model=MODEL,
        max_tokens=300,
        tools=[tool],
        messages=[
            {"role": "user", "content": "Do dictionaries keep their order?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": PASSAGES}],
            },
        ],
    )
    assert _text_of(message) == "Dictionaries keep insertion order."


def test_no_material_at_all_says_so(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL,
        max_tokens=300,
        messages=[{"role": "user", "content": "Do dictionaries keep their order?"}],
    )
    assert "No documents were supplied" in _text_of(message)
