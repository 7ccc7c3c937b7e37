"""Finds the chunks for a question: dense search, re-ranked with BM25 (hybrid), within a budget.

Dense search asks Chroma for a pool of the nearest chunks to the question's embedding (three
candidates per chunk wanted). With hybrid on (the default), the pool is ordered by weighted
reciprocal rank fusion, score = 1 / (k + dense rank) + the sum of weight / (k + rank) over
three more rankings of the pool: BM25 of the chunk (bm25s, over the same text that is
embedded: title, headings and text, English stop words dropped and words stemmed); the
similarity to the question of the opening chunk of the chunk's section, where an answer
usually says what it is about; and BM25 of the whole section, whose words a long answer
spreads over several chunks. Either way the best chunk of each section (a document's heading
path) then comes before a second chunk of any section, so one long section split into several
chunks does not fill the places that other sections' answers would take. Only the order
changes: each result keeps its cosine similarity as its score, so context sizing reads one
scale either way. The pool, k, the weights and the section order were tuned on the `tune`
half of the benchmark's FAQ sets (tests/benchmarks/bench_retrieval.py). The BM25 indexes and
the openings' vectors are loaded again when the corpus version changes; the index holds every
chunk of the corpus version, so with hybrid on Chroma is asked for the pool's ids and
distances only (reading text and metadata costs it more than the search).

Only documents whose indexing is done are searched: chunks of a document being indexed, or
of one retired or deleted whose chunks are still being purged, are left out of both rankings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Protocol

import bm25s
import numpy as np
import numpy.typing as npt
import snowballstemmer

from rag.tokens import estimate_text_tokens
from rag.tracing import NO_TRACING, TraceSpan, Tracing
from rag.types import Chunk, RetrievedChunk, embedding_context

# The constant of reciprocal rank fusion. Cormack et al. (2009) use 60 over whole rankings;
# over a pool of a few dozen, 10 ranked the answer higher on both tuning sets.
RRF_K = 10
# Dense search fetches this many candidates per chunk asked for; BM25 and the section order
# re-rank them.
_CANDIDATES_PER_RESULT = 3
# With hybrid on, two section-level rankings join the fusion: the similarity of the opening
# chunk of each candidate's section (where an answer states itself), and BM25 over the whole
# section's text (its words spread over several chunks). Tuned on the benchmark's `tune` sets.
OPENING_WEIGHT = 0.7
SECTION_LEXICAL_WEIGHT = 0.3


class _Embedder(Protocol):
    async def aembed_query(self, text: str) -> npt.NDArray[np.float32]: ...


class _Store(Protocol):
    def nearest(
        self, vector: npt.NDArray[np.float32], k: int, excluded: Collection[str] = ()
    ) -> list[RetrievedChunk]: ...

    def nearest_ids(
        self, vector: npt.NDArray[np.float32], k: int, excluded: Collection[str] = ()
    ) -> list[tuple[str, float]]: ...

    def chunks_by_id(self, chunk_ids: Collection[str]) -> dict[str, Chunk]: ...

    def all_chunks_with_vectors(self) -> tuple[list[Chunk], npt.NDArray[np.float32]]: ...


def _words(texts: list[str]) -> list[list[str]]:
    """Each text as BM25 sees it: lower-cased words, English stop words out, stemmed."""
    # A stemmer keeps its working state on itself: one per call, as queries and index builds
    # run in threads at once.
    stemmer = snowballstemmer.stemmer("english")
    tokens = bm25s.tokenize(
        texts, stopwords="en", stemmer=stemmer.stemWords, return_ids=False, show_progress=False
    )
    return [list(words) for words in tokens]


class _Scores(Mapping[str, float]):
    """BM25 scores by chunk id, read from the score array only for the ids asked about.

    Over a large corpus most chunks share some word with a query; a dict of all of them would
    cost more than the scoring itself, and only the candidate pool is ever looked up.
    """

    def __init__(self, positions: Mapping[str, int], found: npt.NDArray[np.float64]) -> None:
        self._positions = positions
        self._found = found

    def __getitem__(self, chunk_id: str) -> float:
        score = float(self._found[self._positions[chunk_id]])
        if score <= 0:
            raise KeyError(chunk_id)
        return score

    def __iter__(self) -> Iterator[str]:
        return (i for i, at in self._positions.items() if self._found[at] > 0)

    def __len__(self) -> int:
        return int(np.count_nonzero(self._found > 0))


def section_of(chunk: Chunk) -> tuple[str, ...]:
    """The section a chunk is part of: its document's heading path, or itself under none."""
    if not chunk.heading_path:
        return (chunk.document_id, chunk.chunk_id)
    return (chunk.document_id, *chunk.heading_path)


def _section_words(
    chunks: list[Chunk], groups: list[list[int]], words: list[list[str]]
) -> list[list[str]]:
    """Each section's words as BM25 sees them: its opening's, then its other chunks' texts'.

    Words are found one at a time, so a section's are its chunks' put together, with the
    title and headings (which every chunk of a section begins with) counted once.
    """
    several = [group for group in groups if len(group) > 1]
    contexts = iter(
        _words([embedding_context(chunks[g[0]].title, chunks[g[0]].heading_path) for g in several])
    )
    sections: list[list[str]] = []
    for group in groups:
        found = list(words[group[0]])
        if len(group) > 1:
            skip = len(next(contexts))
            for at in group[1:]:
                found.extend(words[at][skip:])
        sections.append(found)
    return sections


class _LexicalIndex:
    """BM25 over every chunk of one corpus version, and over every section.

    A section's BM25 document is its title and headings with the text of all its chunks; each
    section also keeps the vector of its opening chunk (the first in reading order).
    """

    def __init__(self, chunks: list[Chunk], vectors: npt.NDArray[np.float32]) -> None:
        self._positions = {c.chunk_id: i for i, c in enumerate(chunks)}
        self.chunks = {c.chunk_id: c for c in chunks}
        self._bm25 = bm25s.BM25()
        self._sections = bm25s.BM25()
        members: dict[tuple[str, ...], list[int]] = {}
        for at, chunk in enumerate(chunks):
            members.setdefault(section_of(chunk), []).append(at)
        # A section's opening is its first chunk in reading order.
        groups = [sorted(found, key=lambda at: chunks[at].position) for found in members.values()]
        self._section_at = {
            chunks[at].chunk_id: s for s, group in enumerate(groups) for at in group
        }
        self._openings = (
            vectors[[group[0] for group in groups]] if groups else np.zeros((0, 0), np.float32)
        )
        if chunks:
            words = _words([c.embedding_text for c in chunks])
            self._bm25.index(words, show_progress=False)
            self._sections.index(_section_words(chunks, groups, words), show_progress=False)

    def scores(self, query: str) -> tuple[Mapping[str, float], Mapping[str, float]]:
        """The BM25 scores for query of each chunk, and of each chunk's section, by chunk id.

        Only chunks (or sections) sharing a word with query have a score.
        """
        words = _words([query])[0]
        if not self._positions or not words:
            return {}, {}
        chunks = _Scores(self._positions, np.asarray(self._bm25.get_scores(words)))
        sections = _Scores(self._section_at, np.asarray(self._sections.get_scores(words)))
        return chunks, sections

    def openings(
        self, vector: npt.NDArray[np.float32], pool: list[RetrievedChunk]
    ) -> dict[str, float]:
        """The similarity to vector of the opening chunk of each pool chunk's section.

        A chunk stored after the index was built counts as the opening of its own section.
        """
        scores = {r.chunk.chunk_id: r.score for r in pool}
        ids = [chunk_id for chunk_id in scores if chunk_id in self._section_at]
        if ids:
            found = self._openings[[self._section_at[i] for i in ids]] @ vector
            scores.update(zip(ids, (float(f) for f in found), strict=True))
        return scores


class Retriever:
    """Dense search over the chunk store (re-ranked by BM25 if hybrid), trimmed to a budget."""

    def __init__(
        self,
        embedder: _Embedder,
        store: _Store,
        corpus_version: Callable[[], str],
        hybrid: bool = True,
        context_token_budget: int = 12_000,
        lexical_weight: float = 0.3,
        tracing: Tracing = NO_TRACING,
        outside_corpus: Callable[[], Collection[str]] = frozenset,
        vector_space: str = "",
    ) -> None:
        self._embedder = embedder
        self._store = store
        self._corpus_version = corpus_version
        # The documents not (or no longer) part of the corpus whose chunks may be in the store.
        self._outside_corpus = outside_corpus
        self.hybrid = hybrid
        self.lexical_weight = lexical_weight
        self._budget_tokens = context_token_budget
        self._vector_space = vector_space
        self._lexical: tuple[str, _LexicalIndex] | None = None
        self._lexical_lock = asyncio.Lock()
        self._tracing = tracing

    async def search(self, query: str, top_k: int) -> list[RetrievedChunk]:
        """The top_k chunks for query, best first, of documents whose indexing is done."""
        wanted = top_k * _CANDIDATES_PER_RESULT
        if not self.hybrid:
            excluded = frozenset(await asyncio.to_thread(self._outside_corpus))
            vector = await self._embedder.aembed_query(query)
            pool = await asyncio.to_thread(self._store.nearest, vector, wanted, excluded)
            return sections_first(pool)[:top_k]
        # The corpus reads and the lexical scores need no vector: they run on the second core
        # while the query embeds.
        vector, (excluded, lexical, (words, section_words)) = await asyncio.gather(
            self._embedder.aembed_query(query), self._lexical_side(query)
        )
        # The index holds every chunk of this corpus version: Chroma is asked for ids only.
        found = await asyncio.to_thread(self._store.nearest_ids, vector, wanted, excluded)
        missing = [chunk_id for chunk_id, _ in found if chunk_id not in lexical.chunks]
        more = await asyncio.to_thread(self._store.chunks_by_id, missing) if missing else {}
        pool = [
            RetrievedChunk(chunk=lexical.chunks.get(chunk_id) or more[chunk_id], score=score)
            for chunk_id, score in found
            if chunk_id in lexical.chunks or chunk_id in more
        ]
        rankings = [
            (self.lexical_weight, words),
            (OPENING_WEIGHT, lexical.openings(vector, pool)),
            (SECTION_LEXICAL_WEIGHT, section_words),
        ]
        return sections_first(fuse(pool, rankings))[:top_k]

    def key_fields(self) -> dict[str, object]:
        """What decides the chunks found besides the query and the corpus (for cache keys)."""
        return {
            # Changes whenever the order results come in does (1: each section's best first),
            # so answers cached over an earlier ranking are not served over this one.
            # 2: the section's opening and its whole text vote in the hybrid fusion.
            "ranking": 2,
            "hybrid": self.hybrid,
            "lexical_weight": self.lexical_weight if self.hybrid else None,
            "vector_space": self._vector_space,
            "context_token_budget": self._budget_tokens,
        }

    async def retrieve(
        self, query: str, top_k: int, trace: TraceSpan | None = None
    ) -> list[RetrievedChunk]:
        """The best chunks for query that fit the context token budget, best first."""
        attributes = {"strata.top_k": top_k, "strata.hybrid": self.hybrid}
        with self._tracing.span("strata.retrieval", trace, attributes) as span:
            found = within_budget(await self.search(query, top_k), self._budget_tokens)
            span.set({"strata.chunks": len(found)})
        return found

    async def _lexical_side(
        self, query: str
    ) -> tuple[frozenset[str], _LexicalIndex, tuple[Mapping[str, float], Mapping[str, float]]]:
        """The documents outside the corpus, the BM25 index and query's BM25 scores.

        The scores of each chunk, and of each chunk's section, by chunk id.
        """
        outside, lexical = await asyncio.gather(
            asyncio.to_thread(self._outside_corpus), self._lexical_index()
        )
        words = await asyncio.to_thread(lexical.scores, query)
        return frozenset(outside), lexical, words

    async def _lexical_index(self) -> _LexicalIndex:
        version = await asyncio.to_thread(self._corpus_version)
        async with self._lexical_lock:
            if self._lexical is None or self._lexical[0] != version:
                chunks, vectors = await asyncio.to_thread(self._store.all_chunks_with_vectors)
                index = await asyncio.to_thread(_LexicalIndex, chunks, vectors)
                self._lexical = (version, index)
            return self._lexical[1]


def fuse(
    pool: list[RetrievedChunk],
    rankings: list[tuple[float, Mapping[str, float]]],
    k: int = RRF_K,
) -> list[RetrievedChunk]:
    """The dense pool (best first) in order of weighted reciprocal rank fusion with rankings.

    Each ranking is a weight and scores by chunk id (higher is better); a chunk without a
    score has no rank in it. The dense order counts with weight 1. Each result keeps its
    dense score.
    """
    fused = {r.chunk.chunk_id: 1.0 / (k + rank) for rank, r in enumerate(pool, start=1)}
    for weight, found in rankings:
        scored = sorted(
            (r.chunk.chunk_id for r in pool if r.chunk.chunk_id in found),
            key=lambda chunk_id: -found[chunk_id],
        )
        for rank, chunk_id in enumerate(scored, start=1):
            fused[chunk_id] += weight / (k + rank)
    # sorted is stable: ties keep the dense order.
    return sorted(pool, key=lambda r: -fused[r.chunk.chunk_id])


def sections_first(results: list[RetrievedChunk]) -> list[RetrievedChunk]:
    """The same results, best first, but each section's best chunk before any second chunk.

    A section is a document's heading path. A chunk under no heading is a section of its own,
    so the chunks of a document without headings keep their order.
    """
    seen: set[tuple[str, ...]] = set()
    leading: list[RetrievedChunk] = []
    following: list[RetrievedChunk] = []
    for result in results:
        section = section_of(result.chunk)
        (following if section in seen else leading).append(result)
        seen.add(section)
    return leading + following


def within_budget(results: list[RetrievedChunk], budget_tokens: int) -> list[RetrievedChunk]:
    """The leading results whose text fits budget_tokens together (at least nothing over it)."""
    kept: list[RetrievedChunk] = []
    used = 0
    for result in results:
        cost = estimate_text_tokens(result.chunk.text)
        if used + cost > budget_tokens:
            break
        kept.append(result)
        used += cost
    return kept
