"""Finds the chunks for a question: dense search, optionally fused with BM25, within a budget.

Dense search asks Chroma for the nearest chunks to the question's embedding. With hybrid on,
a BM25 index (bm25s) over every chunk ranks them lexically too, and the two rankings are
fused by reciprocal rank (score = sum of 1 / (60 + rank)), which needs no score calibration
between the two. The BM25 index is rebuilt when the corpus version changes.

Only documents whose indexing is done are searched: chunks of a document being indexed, or
of one retired or deleted whose chunks are still being purged, are left out of both rankings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Protocol

import bm25s
import numpy as np
import numpy.typing as npt

from rag.tokens import estimate_text_tokens
from rag.tracing import NO_TRACING, TraceSpan, Tracing
from rag.types import Chunk, RetrievedChunk

# The constant of reciprocal rank fusion from Cormack et al. (2009); 60 is the usual choice.
RRF_K = 60
# Each ranking contributes this many candidates per chunk asked for, before fusion.
_CANDIDATES_PER_RESULT = 3


class _Embedder(Protocol):
    async def aembed_query(self, text: str) -> npt.NDArray[np.float32]: ...


class _Store(Protocol):
    def nearest(
        self, vector: npt.NDArray[np.float32], k: int, excluded: Collection[str] = ()
    ) -> list[RetrievedChunk]: ...

    def all_chunks(self) -> list[Chunk]: ...


class _LexicalIndex:
    """BM25 over every chunk of one corpus version."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self.chunks = chunks
        self._bm25 = bm25s.BM25()
        if chunks:
            tokens = bm25s.tokenize([c.text for c in chunks], show_progress=False)
            self._bm25.index(tokens, show_progress=False)

    def search(self, query: str, k: int) -> list[Chunk]:
        if not self.chunks:
            return []
        tokens = bm25s.tokenize([query], show_progress=False)
        if not tokens.vocab:
            return []
        ids, scores = self._bm25.retrieve(
            tokens, k=min(k, len(self.chunks)), show_progress=False, n_threads=1
        )
        return [self.chunks[int(i)] for i, s in zip(ids[0], scores[0], strict=True) if s > 0]


class Retriever:
    """Dense (or hybrid) search over the chunk store, trimmed to a token budget."""

    def __init__(
        self,
        embedder: _Embedder,
        store: _Store,
        corpus_version: Callable[[], str],
        hybrid: bool = False,
        context_token_budget: int = 12_000,
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
        self._budget_tokens = context_token_budget
        self._vector_space = vector_space
        self._lexical: tuple[str, _LexicalIndex] | None = None
        self._lexical_lock = asyncio.Lock()
        self._tracing = tracing

    async def search(self, query: str, top_k: int) -> list[RetrievedChunk]:
        """The top_k chunks for query, best first, of documents whose indexing is done."""
        excluded = frozenset(await asyncio.to_thread(self._outside_corpus))
        if not self.hybrid:
            vector = await self._embedder.aembed_query(query)
            return await asyncio.to_thread(self._store.nearest, vector, top_k, excluded)
        wide = top_k * _CANDIDATES_PER_RESULT
        lexical = await self._lexical_index()
        # The lexical search needs no vector: it runs on the second core while the query embeds.
        vector, words = await asyncio.gather(
            self._embedder.aembed_query(query),
            asyncio.to_thread(lexical.search, query, wide + len(excluded)),
        )
        dense = await asyncio.to_thread(self._store.nearest, vector, wide, excluded)
        done = [c for c in words if c.document_id not in excluded][:wide]
        return fuse([[r.chunk for r in dense], done])[:top_k]

    def key_fields(self) -> dict[str, object]:
        """What decides the chunks found besides the query and the corpus (for cache keys)."""
        return {
            "hybrid": self.hybrid,
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

    async def _lexical_index(self) -> _LexicalIndex:
        version = await asyncio.to_thread(self._corpus_version)
        async with self._lexical_lock:
            if self._lexical is None or self._lexical[0] != version:
                chunks = await asyncio.to_thread(self._store.all_chunks)
                index = await asyncio.to_thread(_LexicalIndex, chunks)
                self._lexical = (version, index)
            return self._lexical[1]


def fuse(rankings: list[list[Chunk]], k: int = RRF_K) -> list[RetrievedChunk]:
    """Reciprocal rank fusion of several best-first rankings."""
    scores: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    for ranking in rankings:
        for rank, chunk in enumerate(ranking, start=1):
            scores[chunk.chunk_id] = scores.get(chunk.chunk_id, 0.0) + 1.0 / (k + rank)
            chunks[chunk.chunk_id] = chunk
    best = sorted(scores, key=lambda chunk_id: (-scores[chunk_id], chunk_id))
    return [RetrievedChunk(chunks[chunk_id], round(scores[chunk_id], 6)) for chunk_id in best]


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
