"""How many retrieved chunks a question gets: decided per question, not a fixed top_k.

Retrieval returns up to top_k candidates, best first. The context keeps the best one, then each
next candidate only while
- its score is within `score_margin` of the best (a confident, clear winner brings no
  runners-up; a question several chunks answer equally well keeps them all),
- it is not a near-duplicate of a chunk already kept (most of its word trigrams already
  there: overlapping windows, a section copied into two documents),
- the kept chunks still fit the token budget.
The default margin is the knee of grounding against context tokens measured by
`make bench` (tests/benchmarks/bench_answer_cost.py, its `sizing` figures).

Scores are dense search's cosine similarities, with hybrid search on too (BM25 only re-orders
the candidates), so one margin and one standalone score serve both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.tokens import estimate_text_tokens
from rag.types import RetrievedChunk

_WORDS = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class ContextSizing:
    """The rules one answer's context is cut by."""

    score_margin: float = 0.12
    token_budget: int = 12_000
    # Share of a candidate's word trigrams already kept above which it adds nothing.
    duplicate_overlap: float = 0.8
    # A follow-up whose best chunk scores below this (cosine similarity) names no topic of its
    # own. On the benchmark's FAQ set every real question's best chunk scores 0.29 or more,
    # "Can you explain that in more detail?" and the like 0.13 to 0.18.
    standalone_score: float = 0.25


def sized_context(results: Sequence[RetrievedChunk], sizing: ContextSizing) -> list[RetrievedChunk]:
    """The leading results the question needs, best first (at least the best one).

    Results re-ranked by hybrid search keep their cosine scores, which need not descend: one
    below the margin is passed over, not taken as the end of the list.
    """
    kept: list[RetrievedChunk] = []
    seen: set[tuple[str, ...]] = set()
    used = 0
    for result in results:
        tokens = estimate_text_tokens(result.chunk.text)
        trigrams = _trigrams(result.chunk.text)
        if kept:
            if result.score < kept[0].score - sizing.score_margin:
                continue
            if used + tokens > sizing.token_budget:
                break
            if trigrams and len(trigrams & seen) >= sizing.duplicate_overlap * len(trigrams):
                continue
        kept.append(result)
        seen |= trigrams
        used += tokens
    return kept


def leans_on_conversation(results: Sequence[RetrievedChunk], sizing: ContextSizing) -> bool:
    """True when a follow-up's own search found nothing it clearly asks about."""
    return not results or max(r.score for r in results) < sizing.standalone_score


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = _WORDS.findall(text.casefold())
    return {tuple(words[i : i + 3]) for i in range(max(0, len(words) - 2))}
