"""The answer cache is shared: a question asked on two replicas at once is answered once; it
is bounded, and keeps each answer's documents."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from rag.answer_cache import StoredAnswer
from rag.storage import Database
from rag.storage.answers import AnswerCache
from rag.types import Chunk, Citation, Source, Usage

ANSWER = StoredAnswer(
    text="Run strata serve.",
    sources=(Source("doc:0", "doc", "guide.md", "Guide"),),
    citations=(Citation("Run strata serve.", "guide.md", "doc:0", "doc", "Guide"),),
    usage=Usage(input_tokens=900, output_tokens=12),
)


async def test_one_replica_answers_and_the_others_asking_at_once_get_its_answer(
    open_replica: Callable[[], Database],
) -> None:
    caches = [AnswerCache(open_replica()) for _ in range(2)]
    lookups = [asyncio.create_task(caches[i % 2].get_or_claim("k")) for i in range(6)]
    done, waiting = await asyncio.wait(lookups, return_when=asyncio.FIRST_COMPLETED)
    # Exactly one lookup holds the claim; every other one waits for its answer.
    assert [task.result() for task in done] == [None]
    await asyncio.sleep(0.3)
    assert not any(task.done() for task in waiting)

    await caches[0].put("k", "claude-sonnet-5-5", ANSWER)
    assert await asyncio.gather(*waiting) == [ANSWER] * 5
    assert await caches[1].get("k") == ANSWER


async def test_a_released_claim_lets_the_next_asker_answer(
    open_replica: Callable[[], Database],
) -> None:
    first, second = AnswerCache(open_replica()), AnswerCache(open_replica())
    assert await first.get_or_claim("k") is None
    waiting = asyncio.create_task(second.get_or_claim("k"))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await first.release("k")
    assert await waiting is None
    assert await first.get("k") is None


async def test_the_claim_of_a_replica_that_died_runs_out(
    open_replica: Callable[[], Database],
) -> None:
    dead = AnswerCache(open_replica(), claim_seconds=0.5)
    assert await dead.get_or_claim("k") is None
    # Nobody releases the claim: the other replica waits until it expires, then answers.
    alive = AnswerCache(open_replica(), claim_seconds=0.5)
    assert await asyncio.wait_for(alive.get_or_claim("k"), timeout=30) is None
    await alive.put("k", "claude-sonnet-5-5", ANSWER)
    assert await dead.get("k") == ANSWER


async def test_past_its_bound_the_cache_drops_the_least_recently_used_answer(
    open_replica: Callable[[], Database],
) -> None:
    cache = AnswerCache(open_replica(), max_entries=2)
    for key in ("a", "b"):
        assert await cache.get_or_claim(key) is None
        await cache.put(key, "claude-sonnet-5-5", ANSWER)
    assert await cache.get_or_claim("a") == ANSWER  # a is now used more recently than b
    assert await cache.get_or_claim("c") is None
    await cache.put("c", "claude-sonnet-5-5", ANSWER)

    other = AnswerCache(open_replica(), max_entries=2)
    assert await other.get("a") == ANSWER
    assert await other.get("b") is None
    assert await other.get("c") == ANSWER


async def test_a_stored_answer_keeps_the_documents_it_was_given_over(
    open_replica: Callable[[], Database],
) -> None:
    chunk = Chunk("doc:0", "doc", "guide.md", "Guide", "Run strata serve.", ("Start",), 0, 0, 17)
    answer = replace(ANSWER, chunks=(chunk,))
    await AnswerCache(open_replica()).put("k", "claude-sonnet-5-5", answer)
    assert await AnswerCache(open_replica()).get("k") == answer
