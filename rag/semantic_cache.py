"""The semantic answer cache: an answer given before, served for a paraphrase of its question.

A tier behind the exact answer cache. Candidates are the answers cached in the same scope
(corpus version, prompt version, model and options) whose bare question embeds close to the
new one. Similarity alone serves wrong answers (a question and its reversal score 0.99 on
MiniLM), so a candidate is served only when every guard passes, and a guard that fails or
raises is a miss:
- evidence: the new question retrieves the chunks the cached answer was built on;
- words: the same numbers, negations and names, no opposites, no swapped relation, and no
  content word without a close counterpart in the other question (rag/paraphrase.py).
The thresholds below were measured on tests/semantic/pairs.jsonl (`make bench`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from rag.answer_cache import StoredAnswer
from rag.paraphrase import lexical_difference
from rag.storage.semantic_answers import SemanticEntry, SemanticStore

log = logging.getLogger("strata.semantic_cache")

Vector = npt.NDArray[np.float32]

# Cosine of the bare questions below which a cached answer is not even considered.
MIN_SIMILARITY = 0.7
# Evidence: this many of the new question's best chunks must be among the cached answer's.
EVIDENCE_TOP = 3
EVIDENCE_SHARED = 2
# A content word in one question needs a word in the other at least this close (cosine).
MIN_WORD_SIMILARITY = 0.6
# An audit agrees when the fresh answer embeds at least this close to the one served. A rule
# of thumb, not measured: the disagreement rate it gives is a signal to read, not a proof.
AUDIT_AGREEMENT = 0.8
# Candidates checked per question, most similar first.
MAX_CANDIDATES = 3
_WORD_VECTORS = 20_000


class _Embedder(Protocol):
    def embed_texts(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...

    async def aembed_query(self, text: str) -> Vector: ...


@dataclass(frozen=True, slots=True)
class SemanticMatch:
    """A cached answer that may be served for the new question."""

    answer: StoredAnswer
    question: str
    similarity: float


def semantic_scope(
    corpus_version: str, prompt_version: str, model: str, options: Mapping[str, object]
) -> str:
    """The group of answers a question may be served from: everything but the question."""
    material = json.dumps([corpus_version, prompt_version, model, dict(options)], sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


def shares_evidence(cached_chunk_ids: Sequence[str], retrieved_ids: Sequence[str]) -> bool:
    """True when the new question's best chunks are mostly those the answer was built on."""
    best = retrieved_ids[:EVIDENCE_TOP]
    needed = min(EVIDENCE_SHARED, len(best))
    return needed > 0 and len(set(best) & set(cached_chunk_ids)) >= needed


class SemanticCache:
    """Finds a cached answer for a paraphrase, and remembers answers for later ones."""

    def __init__(self, store: SemanticStore, embedder: _Embedder) -> None:
        self._store = store
        self._embedder = embedder
        self._words: OrderedDict[str, Vector] = OrderedDict()
        self._words_lock = threading.Lock()

    async def embed(self, question: str) -> Vector:
        """The embedding of the bare question, never of a prompt built around it."""
        return await self._embedder.aembed_query(question)

    async def find(
        self, question: str, vector: Vector, scope: str, retrieved_ids: Sequence[str]
    ) -> SemanticMatch | None:
        """A cached answer of scope that every guard lets question reuse, if any."""
        entries = await self._store.entries(scope)
        if not entries:
            return None
        similarities = np.stack([e.vector for e in entries]) @ vector
        order = np.argsort(-similarities)[:MAX_CANDIDATES]
        for index in order:
            similarity = float(similarities[index])
            if similarity < MIN_SIMILARITY:
                break
            entry = entries[int(index)]
            if await self._passes(question, entry, retrieved_ids):
                return SemanticMatch(entry.answer, entry.question, round(similarity, 4))
        return None

    async def remember(
        self,
        question: str,
        vector: Vector,
        scope: str,
        corpus_version: str,
        chunk_ids: Sequence[str],
        answer: StoredAnswer,
    ) -> None:
        """Keep answer for paraphrases of question asked later in the same scope."""
        entry = SemanticEntry(question, vector, tuple(chunk_ids), answer)
        await self._store.add(scope, corpus_version, entry)

    async def agree(self, served: str, fresh: str) -> bool:
        """Whether a fresh answer says what the served one did, by the embeddings of both."""
        vectors = await asyncio.to_thread(self._embedder.embed_texts, [served, fresh])
        return float(vectors[0] @ vectors[1]) >= AUDIT_AGREEMENT

    async def _passes(
        self, question: str, entry: SemanticEntry, retrieved_ids: Sequence[str]
    ) -> bool:
        try:
            if not shares_evidence(entry.chunk_ids, retrieved_ids):
                return False
            difference = await asyncio.to_thread(
                lexical_difference,
                entry.question,
                question,
                self._word_similarity,
                MIN_WORD_SIMILARITY,
            )
        except Exception:
            # A guard that cannot decide must not serve someone else's answer.
            log.warning("a semantic-cache guard failed; treated as a miss", exc_info=True)
            return False
        return difference is None

    def _word_similarity(self, first: Sequence[str], second: Sequence[str]) -> list[list[float]]:
        a, b = self._word_vectors(first), self._word_vectors(second)
        return (a @ b.T).tolist()  # type: ignore[no-any-return]

    def _word_vectors(self, words: Sequence[str]) -> npt.NDArray[np.float32]:
        with self._words_lock:
            known = {w: self._words[w] for w in words if w in self._words}
        missing = [w for w in dict.fromkeys(words) if w not in known]
        if missing:
            known.update(zip(missing, self._embedder.embed_texts(missing), strict=True))
            with self._words_lock:
                self._words.update((w, known[w]) for w in missing)
                while len(self._words) > _WORD_VECTORS:
                    self._words.popitem(last=False)
        return np.stack([known[w] for w in words])
