"""Does BM25 fused with dense search find the right chunk more often than dense alone?

A small evaluation set over data/sample: each question names a phrase that only the chunk
answering it contains. Reports hit rate at 3 and 8 and the mean reciprocal rank, for dense
search and for hybrid (dense + BM25 by reciprocal rank fusion). Hybrid stays on by default
only while it does at least as well.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from api.wiring import open_services
from rag.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
DEPTH = 8

# (question, a phrase found in the chunk that answers it)
EVALUATION = [
    ("How do I reverse a list in place?", "reverses the items of"),
    ("Does reverse() return the reversed list?", "does not return the reversed sequence"),
    ("Is list.sort stable?", "guaranteed to be stable"),
    ("What does the key argument of sort do?", "*key* specifies a function of one argument"),
    ("How do I remove and return an item at a given index?", "retrieves the item at"),
    ("What happens when a slice index is negative?", "relative to the end"),
    ("Why can a tuple containing a list not be hashed?", "unhashable"),
    ("How do I add every element of another list to mine?", "extends *s* with the contents"),
    ("What arguments does range take?", "class range(stop)"),
    ("Why is concatenating many tuples slow?", "quadratic runtime cost"),
    ("What does multiplying a list of lists by three do?", "lists = [[]] * 3"),
    ("Which principle says explicit is better?", "Explicit is better than implicit."),
    ("What does the Zen of Python say about errors?", "Errors should never pass silently."),
    ("Is flat better than nested?", "Flat is better than nested."),
    ("When was the Gettysburg Address delivered?", "November 19, 1863"),
    ("How does Lincoln's speech begin?", "Four score and seven years ago"),
    ("Government of the people, by the people", "shall not perish from the earth"),
    ("Which amendment protects freedom of speech?", "abridging the freedom of speech"),
    ("Can soldiers be quartered in my house?", "No Soldier shall, in time of peace be quartered"),
    ("What protects against unreasonable searches?", "unreasonable searches and seizures"),
    ("Is there a right to a speedy trial?", "speedy and public trial"),
    ("Are cruel and unusual punishments allowed?", "cruel and unusual punishments"),
    ("What is the right to keep and bear arms?", "keep\nand bear Arms"),
]


def _rank(texts: list[str], phrase: str) -> int | None:
    wanted = " ".join(phrase.split())
    for rank, text in enumerate(texts, start=1):
        if wanted in " ".join(text.split()):
            return rank
    return None


async def _measure() -> dict[str, object]:
    results: dict[str, object] = {"questions": len(EVALUATION)}
    with tempfile.TemporaryDirectory(prefix="strata-bench-retrieval-") as tmp:
        settings = Settings(  # type: ignore[call-arg]
            home=Path(tmp) / "home", anthropic_api_key=None, _env_file=None
        )
        async with open_services(settings) as services:
            await asyncio.to_thread(services.pipeline.ingest_files, [SAMPLE])
            for name, hybrid in (("dense", False), ("hybrid", True)):
                services.retriever.hybrid = hybrid
                ranks = []
                for question, phrase in EVALUATION:
                    found = await services.retriever.search(question, DEPTH)
                    ranks.append(_rank([r.chunk.text for r in found], phrase))
                count = len(ranks)
                results[f"{name}_hit_at_3"] = round(
                    sum(r is not None and r <= 3 for r in ranks) / count, 3
                )
                results[f"{name}_hit_at_8"] = round(sum(r is not None for r in ranks) / count, 3)
                results[f"{name}_mrr"] = round(sum(1 / r for r in ranks if r) / count, 3)
    return results


def run() -> dict[str, object]:
    """Evaluate dense and hybrid retrieval on the sample corpus."""
    return asyncio.run(_measure())
