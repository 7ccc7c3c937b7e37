"""Cost of the cache layers: input-token cost with the default policy divided by policy `off`.

Two workloads over the sample corpus (data/sample), answered in-process by the offline
emulator through the real SDK: a realistic one (repeated questions, follow-ups) with target
<= 0.35, and one where nothing repeats, with target <= 1.02 (the policy never loses money).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from contextlib import aclosing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from api.wiring import open_services
from rag.answering import AskOptions, Done, Used
from rag.pricing import default_price_table
from rag.prompt import documents_key
from rag.settings import CachePolicyName, Settings
from rag.types import Chunk
from tests.benchmarks.workloads import Ask, no_repeat, realistic

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def _settings(home: Path, policy: CachePolicyName) -> Settings:
    # No key and no base URL: the emulator runs in-process; the real API is never called.
    return Settings(  # type: ignore[call-arg]
        home=home, cache_policy=policy, anthropic_api_key=None, _env_file=None
    )


async def _ingest(home: Path, sample: Path) -> tuple[list[Chunk], list[Ask]]:
    """Ingest the sample; returns its chunks and the no-repeat workload over them."""
    async with open_services(_settings(home, "off")) as services:
        await asyncio.to_thread(services.pipeline.ingest_files, [sample])
        chunks = await asyncio.to_thread(services.store.all_chunks)
        # Nothing repeats: no question, and no documents block either (on a small corpus two
        # different questions often retrieve the same chunks; such a pair is a repeat).
        distinct: list[Ask] = []
        blocks: set[str] = set()
        for ask in no_repeat(chunks, limit=len(chunks)):
            found = await services.retriever.retrieve(ask.question, services.settings.top_k)
            block = documents_key([r.chunk for r in found])
            if block not in blocks:
                blocks.add(block)
                distinct.append(ask)
        return chunks, distinct


async def _input_cost(home: Path, policy: CachePolicyName, asks: list[Ask]) -> dict[str, object]:
    prices = default_price_table()
    total = Decimal(0)
    calls = answer_hits = read_tokens = written_tokens = 0
    async with open_services(_settings(home, policy)) as services:
        conversations: dict[int, str] = {}
        for ask in asks:
            options = AskOptions(
                conversation_id=conversations.get(ask.session) if ask.follow_up else None
            )
            async with aclosing(services.answerer.ask(ask.question, options)) as events:
                async for event in events:
                    if isinstance(event, Used):
                        input_only = replace(event.usage, output_tokens=0)
                        cost = prices.cost_of(services.settings.model, input_only).cost_usd
                        total += cost or Decimal(0)
                        read_tokens += event.usage.cache_read_input_tokens
                        written_tokens += event.usage.cache_creation_input_tokens
                    elif isinstance(event, Done):
                        conversations[ask.session] = event.conversation_id
                        calls += 1
                        answer_hits += event.from_answer_cache
    return {
        "input_cost_usd": total,
        "asks": calls,
        "answer_cache_hits": answer_hits,
        "cache_read_tokens": read_tokens,
        "cache_write_tokens": written_tokens,
    }


async def measure(sample: Path = SAMPLE) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="strata-bench-cost-") as tmp:
        home = Path(tmp) / "home"
        chunks, distinct = await _ingest(home, sample)
        results: dict[str, object] = {"chunks": len(chunks)}
        for name, asks in (("realistic", realistic(chunks)), ("no_repeat", distinct)):
            # Each run starts from a copy of the freshly ingested home: no answer or
            # conversation carries over from one run to the next.
            off = await _input_cost(_fresh_copy(home, f"{name}-off"), "off", asks)
            adaptive = await _input_cost(_fresh_copy(home, f"{name}-on"), "adaptive", asks)
            ratio = adaptive["input_cost_usd"] / off["input_cost_usd"]  # type: ignore[operator]
            results[f"{name}_ratio"] = round(float(ratio), 4)
            results[name] = {
                "asks": len(asks),
                "off": _plain(off),
                "adaptive": _plain(adaptive),
            }
        results["realistic_target"] = "<= 0.35"
        results["no_repeat_target"] = "<= 1.02"
        return results


def _fresh_copy(home: Path, name: str) -> Path:
    copy = home.parent / name
    shutil.copytree(home, copy)
    return copy


def _plain(figures: dict[str, object]) -> dict[str, object]:
    return {k: round(float(v), 6) if isinstance(v, Decimal) else v for k, v in figures.items()}


def run() -> dict[str, object]:
    """Run both workloads under `off` and `adaptive`; the ratios are the figures of merit."""
    return asyncio.run(measure())
