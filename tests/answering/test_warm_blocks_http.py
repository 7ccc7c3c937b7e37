"""Another conversation's documents block, still in the cache, serves a new question."""

from __future__ import annotations

import httpx
import pytest

from tests.answering.test_ask_http import ask_json


def _ids(answer: dict) -> set[str]:
    return {s["chunk_id"] for s in answer["sources"]}


@pytest.mark.parametrize("cache_policy", ["always"])
def test_a_first_question_reads_a_warm_block_and_adds_only_what_it_lacks(client: httpx.Client):
    first = ask_json(client, "What did lighthouse keepers do?", top_k=3)
    question = "How far does a lighthouse beam reach with a Fresnel lens?"
    found = client.post("/v1/search", json={"query": question, "top_k": 3}).json()["results"]
    own = {r["chunk_id"] for r in found}
    assert own & _ids(first), "the questions must share a chunk for the test to mean anything"

    second = ask_json(client, question, top_k=3)
    assert second["conversation_id"] != first["conversation_id"]
    # The other conversation's block whole, then what this question found beyond it.
    assert _ids(second) == _ids(first) | own
    assert first["usage"]["cache_creation_input_tokens"] > 0
    assert second["usage"]["cache_read_input_tokens"] >= (
        first["usage"]["cache_read_input_tokens"] + first["usage"]["cache_creation_input_tokens"]
    )
    assert second["usage"]["layer_hit"] == "documents"
    # Its follow-up keeps that block, and reads it again.
    follow_up = ask_json(
        client, "And who tended the light?", top_k=3, conversation_id=second["conversation_id"]
    )
    assert _ids(first) <= _ids(follow_up)
    assert (
        follow_up["usage"]["cache_read_input_tokens"]
        >= (first["usage"]["cache_creation_input_tokens"])
    )


@pytest.mark.parametrize("cache_policy", ["off"])
def test_with_caching_off_every_question_gets_only_its_own_chunks(client: httpx.Client):
    first = ask_json(client, "What did lighthouse keepers do?", top_k=3)
    question = "How far does a lighthouse beam reach with a Fresnel lens?"
    found = client.post("/v1/search", json={"query": question, "top_k": 3}).json()["results"]
    second = ask_json(client, question, top_k=3)
    assert _ids(second) == {r["chunk_id"] for r in found}
    assert second["usage"]["cache_read_input_tokens"] == 0
    assert first["conversation_id"] != second["conversation_id"]


@pytest.mark.parametrize(("cache_policy", "context_score_margin"), [("always", 0.25)])
def test_a_follow_up_that_names_no_topic_adds_at_most_its_best_chunk(client: httpx.Client):
    first = ask_json(client, "What did lighthouse keepers do?")
    conversation = first["conversation_id"]
    ask_json(client, "How do bees make honey?", conversation_id=conversation)
    leaning = "How do bees make honey?\nCan you explain that in more detail?"
    found = client.post("/v1/search", json={"query": leaning, "top_k": 8}).json()["results"]
    near = [r["chunk_id"] for r in found if r["score"] >= found[0]["score"] - 0.25]
    beyond = [chunk_id for chunk_id in near if chunk_id not in _ids(first)]
    assert len(beyond) > 1, "the search must find more than the block for the test to mean anything"

    follow_up = ask_json(
        client, "Can you explain that in more detail?", conversation_id=conversation
    )

    # The block, read again, and only the one chunk the follow-up most needs beyond it: every
    # chunk after the block is paid in full.
    assert follow_up["usage"]["cache_read_input_tokens"] > 0
    assert _ids(follow_up) == _ids(first) | {found[0]["chunk_id"]}
