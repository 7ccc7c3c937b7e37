"""How many paraphrases does the semantic cache serve, and how many near misses wrongly?

Runs every pair of tests/semantic/pairs.jsonl through the real tier (rag/semantic_cache.py):
the sample corpus and the Debian FAQ (as tests/benchmarks/faq_sets.py builds it, question
headings replaced by their numbers) are ingested, the cached question's answer is remembered
with the chunks it retrieves, and the asked question is looked up with the chunks it
retrieves. Each pair has a scope of its own, so pairs never serve each other. The default
STRATA_SEMANTIC_CACHE may be `on` only with zero false hits and at least half the paraphrases
served.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import Counter
from pathlib import Path

from api.wiring import open_services
from rag.answer_cache import StoredAnswer
from rag.settings import Settings
from rag.types import Usage
from tests.benchmarks.faq_sets import debian_faq

PAIRS = Path(__file__).resolve().parents[1] / "semantic" / "pairs.jsonl"
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
_NO_ANSWER = StoredAnswer("", (), (), Usage())


async def _served(corpus: str, paths: list[Path], pairs: list[dict], home: Path) -> list[bool]:
    settings = Settings(home=home, semantic_cache="on", _env_file=None)  # type: ignore[call-arg]
    async with open_services(settings) as services:
        await asyncio.to_thread(services.pipeline.ingest_files, paths)
        cache = services.answerer.semantic_cache
        assert cache is not None
        top_k = settings.top_k
        served = []
        for number, pair in enumerate(pairs):
            scope = f"{corpus}-{number}"
            cached = await services.retriever.retrieve(pair["cached"], top_k)
            vector = await cache.embed(pair["cached"])
            ids = [r.chunk.chunk_id for r in cached]
            await cache.remember(pair["cached"], vector, scope, "bench", ids, _NO_ANSWER)
            asked = await services.retriever.retrieve(pair["asked"], top_k)
            match = await cache.find(
                pair["asked"],
                await cache.embed(pair["asked"]),
                scope,
                [r.chunk.chunk_id for r in asked],
            )
            served.append(match is not None)
        return served


def _figures(pairs: list[dict], served: list[bool]) -> dict[str, object]:
    paraphrases = [s for p, s in zip(pairs, served, strict=True) if p["expect"] == "hit"]
    misses = [(p["kind"], s) for p, s in zip(pairs, served, strict=True) if p["expect"] == "miss"]
    false_hits = Counter(kind for kind, s in misses if s)
    return {
        "paraphrases": len(paraphrases),
        "paraphrases_served": sum(paraphrases),
        "paraphrase_hit_rate": round(sum(paraphrases) / len(paraphrases), 3),
        "near_misses": len(misses),
        "false_hits": sum(false_hits.values()),
        "false_hits_by_kind": dict(false_hits),
    }


async def _measure(scratch: Path) -> dict[str, object]:
    pairs = [json.loads(line) for line in PAIRS.read_text().splitlines()]
    corpora = {
        "sample": [SAMPLE],
        "debian-faq": debian_faq(scratch / "debian-faq").documents(),
    }
    results: dict[str, object] = {}
    every_pair: list[dict] = []
    every_verdict: list[bool] = []
    for corpus, paths in corpora.items():
        chosen = [p for p in pairs if p["corpus"] == corpus]
        served = await _served(corpus, paths, chosen, scratch / f"home-{corpus}")
        results[corpus] = _figures(chosen, served)
        every_pair += chosen
        every_verdict += served
    total = _figures(every_pair, every_verdict)
    enough = total["false_hits"] == 0 and float(total["paraphrase_hit_rate"]) >= 0.5  # type: ignore[arg-type]
    return {**total, "default": "on" if enough else "off", "by_corpus": results}


def run() -> dict[str, object]:
    """Run the adversarial pairs through the semantic cache on both corpora."""
    with tempfile.TemporaryDirectory(prefix="strata-bench-semantic-") as tmp:
        return asyncio.run(_measure(Path(tmp)))
