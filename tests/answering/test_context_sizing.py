"""The context is sized per question: a clear winner goes alone, close runners-up join it."""

from __future__ import annotations

import httpx
import pytest

from rag.context_sizing import ContextSizing, sized_context
from rag.types import Chunk, RetrievedChunk


def _result(chunk_id: str, text: str, score: float) -> RetrievedChunk:
    chunk = Chunk(
        chunk_id=chunk_id,
        document_id=chunk_id,
        source=f"{chunk_id}.md",
        title=chunk_id,
        text=text,
        heading_path=(),
        position=0,
        char_start=0,
        char_end=len(text),
    )
    return RetrievedChunk(chunk, score)


def test_runners_up_join_only_within_the_margin_of_the_best():
    results = [
        _result("a", "apt keeps downloaded packages in its cache directory", 0.71),
        _result("b", "dpkg installs a single package file from disk", 0.68),
        _result("c", "the kernel is built from its own source package", 0.55),
    ]

    kept = sized_context(results, ContextSizing(score_margin=0.05))

    assert [r.chunk.chunk_id for r in kept] == ["a", "b"]
    assert [r.chunk.chunk_id for r in sized_context(results, ContextSizing(0.0))] == ["a"]


def test_a_result_below_the_margin_does_not_hide_a_closer_one_after_it():
    # Hybrid search orders by fused rank and keeps cosine scores, which need not descend.
    results = [
        _result("a", "apt keeps downloaded packages in its cache directory", 0.62),
        _result("b", "dpkg installs a single package file from disk", 0.60),
        _result("lexical", "error 4417 means the licence key has expired", 0.45),
        _result("c", "aptitude shows why a package was installed", 0.58),
    ]

    kept = sized_context(results, ContextSizing(score_margin=0.12))

    assert [r.chunk.chunk_id for r in kept] == ["a", "b", "c"]


def test_a_near_duplicate_of_a_kept_chunk_is_left_out_and_the_next_one_still_joins():
    text = "Packages are kept in a large pool, structured according to the source package name"
    results = [
        _result("a", text, 0.8),
        _result("overlap", text + " and its version.", 0.79),
        _result("b", "Each release has a codename taken from the Toy Story films.", 0.78),
    ]

    kept = sized_context(results, ContextSizing(score_margin=0.1))

    assert [r.chunk.chunk_id for r in kept] == ["a", "b"]


def test_the_token_budget_stops_the_context_but_never_drops_the_best_chunk():
    long = "word " * 400
    results = [_result("a", long, 0.9), _result("b", long, 0.9)]

    assert [r.chunk.chunk_id for r in sized_context(results, ContextSizing(1.0, 300))] == ["a"]


@pytest.fixture
def context_score_margin() -> float:
    return ContextSizing().score_margin


def test_an_ask_sends_only_the_chunks_its_question_needs(client: httpx.Client):
    question = {"question": "Who invented the Fresnel lens?", "stream": False}

    sized = client.post("/v1/ask", json=question).json()
    everything = client.post("/v1/search", json={"query": question["question"], "top_k": 8})

    assert len(everything.json()["results"]) == 8
    assert 1 <= len(sized["sources"]) < 8
    assert sized["sources"][0]["source"] == "lighthouses.md"


def test_a_follow_up_that_names_no_topic_adds_no_chunks_to_the_conversation(
    client: httpx.Client,
):
    first = client.post(
        "/v1/ask", json={"question": "Who invented the Fresnel lens?", "stream": False}
    ).json()
    follow_up = client.post(
        "/v1/ask",
        json={
            "question": "Can you explain that in more detail?",
            "stream": False,
            "conversation_id": first["conversation_id"],
        },
    ).json()

    assert follow_up["sources"] == first["sources"]
