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
