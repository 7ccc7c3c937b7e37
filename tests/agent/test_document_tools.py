"""The agent's tools over the real store and retriever: what Claude gets back for each call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.agent_tools import CUT_RESULT_TOKENS, DocumentTools, ToolCall
from rag.embeddings import Embedder
from rag.retrieval import Retriever
from rag.store import ChunkStore
from rag.tokens import estimate_block_tokens, estimate_text_tokens
from tests.answering.conftest import corpus_chunks

LIGHTHOUSES = next(c.document_id for c in corpus_chunks() if c.source == "lighthouses.md")


@pytest.fixture
def store(corpus_home: Path) -> Iterator[ChunkStore]:
    opened = ChunkStore.open(corpus_home)
    yield opened
    opened.close()


def _tools(store: ChunkStore, embedder: Embedder, budget: int = 12_000) -> DocumentTools:
    retriever = Retriever(embedder, store, lambda: "v1")
    return DocumentTools(retriever, store.chunks_of, 4, 10, document_token_budget=budget)


async def test_get_document_returns_the_passages_in_reading_order_within_the_budget(
    store: ChunkStore, embedder: Embedder
):
    chunks = store.chunks_of(LIGHTHOUSES)
    budget = sum(estimate_text_tokens(c.text) for c in chunks[:2])
    call = ToolCall("toolu_1", "get_document", {"document_id": LIGHTHOUSES})

    outcome = await _tools(store, embedder, budget).run(call)

    assert not outcome.is_error
    assert [c.position for c in outcome.chunks] == [0, 1]
    passages = [b for b in outcome.content if b["type"] == "search_result"]
    assert [p["content"][0]["text"] for p in passages] == [c.text for c in chunks[:2]]
    assert all(LIGHTHOUSES in p["title"] for p in passages)
    assert "first 2 of 4 passages" in outcome.content[-1]["text"]
    assert outcome.block()["tool_use_id"] == "toolu_1"


async def test_a_result_cut_to_the_context_window_keeps_its_leading_passages_and_says_so(
    store: ChunkStore, embedder: Embedder
):
    call = ToolCall("toolu_3", "get_document", {"document_id": LIGHTHOUSES})
    whole = await _tools(store, embedder).run(call)
    two_passages = sum(estimate_block_tokens(b) for b in whole.content[:2])

    cut = whole.within(two_passages + CUT_RESULT_TOKENS)
    nothing = whole.within(CUT_RESULT_TOKENS)

    assert whole.within(whole.tokens()) is whole
    assert cut.tokens() <= two_passages + CUT_RESULT_TOKENS
    assert cut.content[:2] == whole.content[:2]
    assert cut.chunks == whole.chunks[:2]
    assert not cut.is_error
    assert f"2 of {len(whole.chunks)} passages" in cut.content[-1]["text"]
    assert nothing.chunks == ()
    assert nothing.is_error
    assert nothing.tokens() <= CUT_RESULT_TOKENS
    assert nothing.block()["tool_use_id"] == "toolu_3"


async def test_search_returns_citable_passages_with_their_document_ids(
    store: ChunkStore, embedder: Embedder
):
    call = ToolCall("toolu_2", "search_documents", {"query": "waggle dance", "top_k": 2})

    outcome = await _tools(store, embedder).run(call)

    assert not outcome.is_error
    assert len(outcome.chunks) == 2
    assert any("waggle dance" in c.text for c in outcome.chunks)
    assert all(b["citations"] == {"enabled": True} for b in outcome.content)
    documents = len({c.document_id for c in outcome.chunks})
    assert outcome.summary == f"2 passages from {documents} document{'s' * (documents > 1)}"


@pytest.mark.parametrize(
    ("name", "tool_input", "message"),
    [
        ("get_document", {"document_id": "no-such-document"}, "no document has the id"),
        ("get_document", {}, "needs a `document_id` string"),
        ("search_documents", {"query": "  "}, "needs a non-empty `query`"),
        ("search_documents", {"query": "bees", "top_k": 11}, "between 1 and 10"),
        ("search_documents", {"query": "bees", "top_k": "3"}, "must be an integer"),
        ("delete_everything", {}, "there is no tool 'delete_everything'"),
    ],
)
async def test_a_call_claude_got_wrong_comes_back_as_an_error_result(
    store: ChunkStore, embedder: Embedder, name: str, tool_input: dict[str, object], message: str
):
    outcome = await _tools(store, embedder).run(ToolCall("toolu_3", name, tool_input))

    assert outcome.is_error
    assert message in outcome.summary
    block = outcome.block()
    assert block["is_error"] is True
    assert message in block["content"][0]["text"]
    assert outcome.chunks == ()
