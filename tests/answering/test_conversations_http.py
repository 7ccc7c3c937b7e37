from typing import Any

import httpx
import pytest

from api.app import create_app
from api.serving import serve_in_thread
from rag.settings import Settings
from tests.answering.test_ask_http import ask_json
from tests.jobs import wait_for_job


@pytest.mark.parametrize("cache_policy", ["always"])
def test_third_turn_reads_the_conversation_layer(client: httpx.Client):
    first = ask_json(client, "How do bees make honey?", top_k=12)
    conversation = first["conversation_id"]
    second = ask_json(client, "How do bees make honey, in short?", conversation_id=conversation)
    third = ask_json(client, "How do bees make honey, once more?", conversation_id=conversation)
    assert second["usage"]["cache_creation_input_tokens"] > 0
    written_through_turn_two = (
        second["usage"]["cache_read_input_tokens"] + second["usage"]["cache_creation_input_tokens"]
    )
    assert third["usage"]["cache_read_input_tokens"] >= written_through_turn_two
    assert third["usage"]["layer_hit"] == "conversation"


def test_conversations_survive_a_restart(strata_settings: Settings):
    with (
        serve_in_thread(create_app(strata_settings)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        first = ask_json(http, "What does a lighthouse keeper do?")
    with (
        serve_in_thread(create_app(strata_settings)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        follow_up = ask_json(
            http, "And when were lighthouses automated?", conversation_id=first["conversation_id"]
        )
        cached = ask_json(http, "What does a lighthouse keeper do?")
    assert follow_up["conversation_id"] == first["conversation_id"]
    assert cached["answer_cached"] is True


def _upload(http: httpx.Client, name: str, text: str) -> None:
    response = http.post("/v1/documents", files=[("files", (name, text.encode(), "text/plain"))])
    assert response.status_code == 202, response.text
    assert wait_for_job(http, response.json()["jobs"][0]["id"], timeout=60)["status"] == "done"


def test_an_ingest_invalidates_the_answer_cache(client: httpx.Client):
    first = ask_json(client, "Who invented the lighthouse lens?")
    assert ask_json(client, "Who invented the lighthouse lens?")["answer_cached"] is True
    _upload(client, "harbours.txt", "Harbour pilots guide large ships into port. " * 20)
    after = ask_json(client, "Who invented the lighthouse lens?")
    assert after["answer_cached"] is False
    assert after["usage"]["output_tokens"] > 0
    assert first["answer_cached"] is False


def test_a_follow_up_on_other_chunks_still_reads_the_documents_block(client: httpx.Client):
    first = ask_json(client, "What does a lighthouse keeper do?", top_k=3)
    follow_up = ask_json(
        client,
        "How long does sourdough bulk fermentation take?",
        top_k=3,
        conversation_id=first["conversation_id"],
    )
    first_ids = {s["chunk_id"] for s in first["sources"]}
    follow_up_ids = {s["chunk_id"] for s in follow_up["sources"]}
    assert follow_up_ids > first_ids  # the kept block, plus what the new question found
    assert first["usage"]["cache_creation_input_tokens"] > 0
    assert (
        follow_up["usage"]["cache_read_input_tokens"]
        >= (first["usage"]["cache_creation_input_tokens"])
    )
    assert follow_up["usage"]["layer_hit"] in ("documents", "conversation")


@pytest.mark.parametrize("cache_policy", ["off"])
def test_a_follow_up_whose_documents_are_not_cached_gets_a_context_of_its_own(
    client: httpx.Client,
):
    first = ask_json(client, "What does a lighthouse keeper do?")
    question = "How long does sourdough bulk fermentation take?"
    follow_up = ask_json(client, question, conversation_id=first["conversation_id"])
    alone = ask_json(client, question)
    # Nothing was cached, so resending the first block would cost full price for nothing.
    assert follow_up["sources"] == alone["sources"]
    first_ids = {s["chunk_id"] for s in first["sources"]}
    assert first_ids - {s["chunk_id"] for s in follow_up["sources"]}
    assert follow_up["usage"]["cache_read_input_tokens"] == 0


def test_two_turn_conversations_cost_less_than_caching_off_under_the_default_policy(
    client: httpx.Client,
):
    turns = []
    for topic in ("lighthouse keepers", "sourdough starters", "the waggle dance"):
        first = ask_json(client, f"Tell me about {topic}.", top_k=4)
        second = ask_json(
            client, f"Anything else on {topic}?", conversation_id=first["conversation_id"]
        )
        turns.append((first["usage"], second["usage"]))
    for first, second in turns:
        # The first turn writes its documents block, or reads another conversation's that
        # holds its chunks; the second, the last use, reads it.
        cached = first["cache_creation_input_tokens"] + first["cache_read_input_tokens"]
        assert cached > 0
        assert second["cache_read_input_tokens"] >= cached
    cost = sum(u["cost_usd"] for pair in turns for u in pair)
    without_cache = sum(u["cost_without_cache_usd"] for pair in turns for u in pair)
    assert cost < without_cache


def test_follow_ups_of_unwritten_blocks_teach_the_planner_to_write_first_turns(
    client: httpx.Client,
):
    questions = [
        ("Who invented the Fresnel lens?", "What did lighthouse keepers log?"),
        ("How long does bulk fermentation take?", "Why do bakers score the loaf?"),
        ("What is the waggle dance for?", "How do bees keep warm in winter?"),
        ("When were lighthouses automated?", "How do sailors tell lights apart?"),
        ("How is a sourdough starter fed?", "Why bake in a cast iron pot?"),
    ]
    firsts = [ask_json(client, first, top_k=3) for first, _ in questions]
    # The first is written on trust; once it has not come back, new blocks go unmarked, so
    # their follow-ups find no cached block and get contexts of their own.
    assert sum(_wrote(f) for f in firsts) < len(firsts)
    follow_ups = [
        ask_json(client, follow_up, top_k=3, conversation_id=first["conversation_id"])
        for first, (_, follow_up) in zip(firsts, questions, strict=True)
    ]
    # A follow-up whose first block was not cached builds its own; those blocks are judged by
    # how often follow-ups' blocks come back (here never): one is written on trust, no more.
    on_their_own = [f for first, f in zip(firsts, follow_ups, strict=True) if not _wrote(first)]
    assert sum(_wrote(f) for f in on_their_own) <= 1 < len(on_their_own)
    # Every conversation came back, so the next first turn is worth writing, and read.
    first = ask_json(client, "How do bees make honey?", top_k=3)
    again = ask_json(
        client,
        "Who lives in a honey bee colony?",
        top_k=3,
        conversation_id=first["conversation_id"],
    )
    assert first["usage"]["cache_creation_input_tokens"] > 0
    assert (
        again["usage"]["cache_read_input_tokens"] >= first["usage"]["cache_creation_input_tokens"]
    )


def _wrote(answer: dict[str, Any]) -> bool:
    return bool(answer["usage"]["cache_creation_input_tokens"] > 0)
