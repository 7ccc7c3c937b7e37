"""Time Strata spends before the first byte goes to Claude, p50 and p99, at 10k chunks.

The store holds 10,000 chunks of text drawn from the sample corpus's vocabulary with random
unit vectors: search cost in Chroma and BM25 depends on the count, not on what the vectors
mean. The emulator notes when each Messages request arrives (same process, same clock); the
figure is that moment minus the moment ask() was called. Target: p50 <= 20 ms on 2 cores.

Each ask is also timed stage by stage, by wrapping the services' own calls until its request
arrives (medians over the measured asks, in ms). Retrieval holds the query's embedding, the
corpus reads and BM25 beside it, the Chroma search and the rest (the section order and the
hand-overs to worker threads); the prompt holds the cache planner's transaction; `other` is
what no stage holds, mostly the request's way to the emulator.
"""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import numpy as np

from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import serve_in_thread
from api.wiring import Services, open_services
from rag.answering import AskOptions, Delta
from rag.embeddings import Embedder, Precision
from rag.settings import Settings
from rag.store import ChunkStore, collection_for
from rag.types import Chunk

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
CHUNKS = 10_000
WARMUP_ASKS = 3
MEASURED_ASKS = 60
_DIMENSIONS = 384


def _vocabulary() -> list[str]:
    words: set[str] = set()
    for path in SAMPLE.glob("*"):
        if path.suffix in {".md", ".txt", ".html"}:
            words.update(re.findall(r"[a-z]{3,}", path.read_text(errors="ignore").lower()))
    return sorted(words) or ["empty"]


def _fill_store(
    home: Path, vocabulary: list[str], rng: random.Random, precision: Precision
) -> None:
    # Into the collection the configured embedder searches (each precision has its own).
    space = Embedder(precision=precision).vector_space
    store = ChunkStore.open(home, collection=collection_for(space))
    vectors = np.random.default_rng(1).standard_normal((CHUNKS, _DIMENSIONS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = [
        Chunk(
            chunk_id=f"c{i:05d}",
            document_id=f"d{i // 20:04d}",
            source=f"doc-{i // 20:04d}.md",
            title=f"Document {i // 20}",
            text=" ".join(rng.choices(vocabulary, k=120)),
            heading_path=(),
            position=i % 20,
            char_start=0,
            char_end=0,
        )
        for i in range(CHUNKS)
    ]
    for start in range(0, CHUNKS, 1000):
        store.upsert(chunks[start : start + 1000], vectors[start : start + 1000])
    store.close()


def _stamped(app: Any, arrivals: list[float], stages: _Stages) -> Any:
    async def wrapper(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/messages":
            arrivals.append(time.perf_counter())
            stages.arrived()
        await app(scope, receive, send)

    return wrapper


# The stages of the time before Claude, in the order a first question meets them. Those
# indented are parts of the stage above; one said to run beside another is left out of the
# sums (`other` holds the part of it that the other does not hide).
STAGES = (
    "conversation",
    "  corpus version, beside it",
    "answer cache",
    "retrieval",
    "  query embedding",
    "  corpus reads and BM25, beside it",
    "  Chroma search",
    "  section order, hand-overs",
    "context",
    "prompt",
    "  cache planner",
    "  prompt building",
    "other",
)
_TOP = [name for name in STAGES if not name.startswith(" ") and name != "other"]
_LEXICAL_SIDE = "  corpus reads and BM25, beside it"


class _Stages:
    """Milliseconds spent in each wrapped call of one ask, until its request reaches Claude."""

    def __init__(self) -> None:
        self.current: dict[str, float] = {}
        self.at_arrival: dict[str, float] = {}

    def start(self) -> None:
        self.current = {}
        self.at_arrival = {}

    def arrived(self) -> None:
        # Called from the emulator's thread: what the ask spends after this is not counted.
        self.at_arrival = dict(self.current)

    def timed(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self._add(name, started)

        return wrapper

    def timed_async(self, name: str, call: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await call(*args, **kwargs)
            finally:
                self._add(name, started)

        return wrapper

    def _add(self, name: str, started: float) -> None:
        spent = (time.perf_counter() - started) * 1000
        self.current[name] = self.current.get(name, 0.0) + spent

    def split(self, total: float) -> dict[str, float]:
        """The stages of the last ask; the top-level ones and `other` add up to total."""
        parts = dict(self.at_arrival)
        beside = max(parts.get("  query embedding", 0.0), parts.get(_LEXICAL_SIDE, 0.0))
        parts["  section order, hand-overs"] = (
            parts.get("retrieval", 0.0) - beside - parts.get("  Chroma search", 0.0)
        )
        parts["  prompt building"] = parts.get("prompt", 0.0) - parts.get("  cache planner", 0.0)
        parts["other"] = total - sum(parts.get(name, 0.0) for name in _TOP)
        return parts


def _instrument(services: Services, stages: _Stages) -> None:
    """Wrap the calls of services that a first question makes before Claude, to time them."""
    answerer = services.answerer
    retriever = services.retriever
    for owner, name, stage in [
        (answerer.conversations, "start", "conversation"),
        (answerer.answer_cache, "get_or_claim", "answer cache"),
        (answerer, "retrieve_for", "retrieval"),
        (services.embedder, "aembed_query", "  query embedding"),
        (answerer, "context_of", "context"),
        (answerer, "layered_prompt", "prompt"),
        (answerer.planner, "plan", "  cache planner"),
    ]:
        setattr(owner, name, stages.timed_async(stage, getattr(owner, name)))
    # Run in worker threads: the time to hand them over falls to the stage around them.
    store = services.store
    for name in ("nearest", "nearest_ids", "chunks_by_id"):
        setattr(store, name, stages.timed("  Chroma search", getattr(store, name)))
    answerer.corpus_version = stages.timed("  corpus version, beside it", answerer.corpus_version)
    retriever._lexical_side = stages.timed_async(_LEXICAL_SIDE, retriever._lexical_side)  # type: ignore[method-assign]


async def _measure() -> dict[str, object]:
    rng = random.Random(5)
    vocabulary = _vocabulary()
    pre_claude_ms: list[float] = []
    first_delta_ms: list[float] = []
    arrivals: list[float] = []
    stages = _Stages()
    per_ask: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="strata-bench-latency-") as tmp:
        home = Path(tmp) / "home"
        # STRATA_EMBEDDING_PRECISION=int8 times the int8 embedder (its export is not timed).
        precision = Settings(_env_file=None).embedding_precision  # type: ignore[call-arg]
        _fill_store(home, vocabulary, rng, precision)
        emulator = create_emulator(EmulatorConfig())
        with serve_in_thread(_stamped(emulator, arrivals, stages)) as url:
            settings = Settings(  # type: ignore[call-arg]
                home=home, anthropic_base_url=url, anthropic_api_key=None, _env_file=None
            )
            async with open_services(settings) as services:
                _instrument(services, stages)
                for index in range(WARMUP_ASKS + MEASURED_ASKS):
                    question = " ".join(rng.choices(vocabulary, k=8)) + "?"
                    stages.start()
                    started = time.perf_counter()
                    first: float | None = None
                    events = services.answerer.ask(question, AskOptions())
                    async with aclosing(events):
                        async for event in events:
                            if isinstance(event, Delta) and first is None:
                                first = time.perf_counter()
                    if index >= WARMUP_ASKS:
                        pre_claude_ms.append((arrivals[-1] - started) * 1000)
                        per_ask.append(stages.split(pre_claude_ms[-1]))
                        if first is not None:
                            first_delta_ms.append((first - started) * 1000)
    return {
        "chunks": CHUNKS,
        "embedding_precision": precision,
        "asks": len(pre_claude_ms),
        "pre_claude_p50_ms": _percentile(pre_claude_ms, 50),
        "pre_claude_p99_ms": _percentile(pre_claude_ms, 99),
        "first_delta_p50_ms": _percentile(first_delta_ms, 50),
        "target": "pre_claude_p50_ms <= 20",
        "table": _stage_table(per_ask),
    }


def _stage_table(per_ask: list[dict[str, float]]) -> str:
    """Median ms of each stage over the asks, as Markdown rows."""
    rows = ["| stage | p50 ms |", "| --- | ---: |"]
    for name in STAGES:
        median = statistics.median(stages.get(name, 0.0) for stages in per_ask)
        label = f"&nbsp;&nbsp;{name.strip()}" if name.startswith(" ") else name
        rows.append(f"| {label} | {median:.1f} |")
    return "\n".join(rows)


def _percentile(values: list[float], percent: int) -> float:
    if not values:
        return float("nan")
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return round(statistics.median(values) if percent == 50 else cuts[percent - 1], 2)


def run() -> dict[str, object]:
    """Fill a store with 10k chunks and time the query path before Claude."""
    return asyncio.run(_measure())
