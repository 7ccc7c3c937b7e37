"""The answer cache is shared: a question asked on two replicas at once is answered once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rag.answer_cache import StoredAnswer
from rag.storage import Database
from rag.storage.answers import AnswerCache
from rag.types import Citation, Source, Usage

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
