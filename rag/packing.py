"""Cache-aware packing: answer over a documents block another question left in the cache.

One API key shares one prompt cache, so a documents block that any conversation had marked is
readable by every request that sends the same bytes before its entry expires. A question whose
chunks that block partly holds can send it whole, read at the cache rate (0.05x to 0.1x of
input on current models), and only the chunks it lacks after it at full price; the block's
other chunks come almost free and often hold more of the answer.

The choice is priced token for token: a warm block wins only when its read plus the missing
chunks cost less than the question's own chunks sent uncached, and the context stays within
the sizing budget. A block of the question's own that later turns would read is not counted
for it: a warm block is read by those turns too, at the same rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.cache_planner import layer_key
from rag.prompt import PROMPT_VERSION, search_result_block
from rag.tokens import estimate_block_tokens
from rag.types import Chunk


@dataclass(frozen=True, slots=True)
class WarmBlock:
    """A documents block whose cache entry is live.

    Its chunks' ids and estimated tokens are weighed; the chunks themselves, as JSON, are read
    only for the block chosen.
    """

    chunk_ids: frozenset[str]
    tokens: int
    chunks: str


@dataclass(frozen=True, slots=True)
class Packing:
    """A warm block to send, the needed chunks it lacks, and the cost weighed for each way."""

    block: WarmBlock
    missing: list[Chunk]
    cost: float
    own_cost: float


def warm_scope(model: str, variant: str, corpus_version: str) -> str:
    """What else a documents block's bytes depend on: blocks of one scope can stand in."""
    return layer_key(model, variant, corpus_version, PROMPT_VERSION)


def chunk_tokens(chunk: Chunk) -> int:
    """Estimated tokens of chunk as a search_result block."""
    return estimate_block_tokens(search_result_block(chunk))


def block_tokens(chunks: Sequence[Chunk]) -> int:
    """Estimated tokens of chunks as search_result blocks."""
    return sum(chunk_tokens(c) for c in chunks)


def pack(
    needed: Sequence[Chunk], warm: Sequence[WarmBlock], read: float, budget: int
) -> Packing | None:
    """The cheapest warm block for needed, if it costs less than needed sent uncached.

    read is a cached token's price over an uncached one's; budget caps the context's tokens.
    Cost is counted in uncached-token units: the block's tokens at read, the missing chunks
    at 1.
    """
    if not needed:
        return None
    tokens = {c.chunk_id: chunk_tokens(c) for c in needed}
    own_cost = float(sum(tokens.values()))
    best: Packing | None = None
    for block in warm:
        missing = [c for c in needed if c.chunk_id not in block.chunk_ids]
        if len(missing) == len(needed):
            continue
        missing_tokens = sum(tokens[c.chunk_id] for c in missing)
        if block.tokens + missing_tokens > budget:
            continue
        cost = block.tokens * read + missing_tokens
        if cost < own_cost and (best is None or cost < best.cost):
            best = Packing(block, missing, cost, own_cost)
    return best
