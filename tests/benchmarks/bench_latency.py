"""Time Strata spends before the first byte goes to Claude, p50 and p99, at 10k chunks.

The store holds 10,000 chunks of text drawn from the sample corpus's vocabulary with random
unit vectors: search cost in Chroma and BM25 depends on the count, not on what the vectors
mean. The emulator notes when each Messages request arrives (same process, same clock); the
figure is that moment minus the moment ask() was called. Target: p50 <= 20 ms on 2 cores.
"""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import tempfile
import time
from contextlib import aclosing
from pathlib import Path
from typing import Any

import numpy as np

from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import serve_in_thread
from api.wiring import open_services
from rag.answering import AskOptions, Delta
from rag.settings import Settings
from rag.store import ChunkStore
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


def _fill_store(home: Path, vocabulary: list[str], rng: random.Random) -> None:
    store = ChunkStore.open(home)
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


def _stamped(app: Any, arrivals: list[float]) -> Any:
    async def wrapper(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/messages":
            arrivals.append(time.perf_counter())
        await app(scope, receive, send)

    return wrapper


async def _measure() -> dict[str, object]:
    rng = random.Random(5)
    vocabulary = _vocabulary()
    pre_claude_ms: list[float] = []
    first_delta_ms: list[float] = []
    arrivals: list[float] = []
    with tempfile.TemporaryDirectory(prefix="strata-bench-latency-") as tmp:
        home = Path(tmp) / "home"
        _fill_store(home, vocabulary, rng)
        emulator = create_emulator(EmulatorConfig())
        with serve_in_thread(_stamped(emulator, arrivals)) as url:
            settings = Settings(  # type: ignore[call-arg]
                home=home, anthropic_base_url=url, anthropic_api_key=None, _env_file=None
            )
            async with open_services(settings) as services:
                for index in range(WARMUP_ASKS + MEASURED_ASKS):
                    question = " ".join(rng.choices(vocabulary, k=8)) + "?"
                    started = time.perf_counter()
                    first: float | None = None
                    events = services.answerer.ask(question, AskOptions())
                    async with aclosing(events):
                        async for event in events:
                            if isinstance(event, Delta) and first is None:
                                first = time.perf_counter()
                    if index >= WARMUP_ASKS:
                        pre_claude_ms.append((arrivals[-1] - started) * 1000)
                        if first is not None:
                            first_delta_ms.append((first - started) * 1000)
    return {
        "chunks": CHUNKS,
        "asks": len(pre_claude_ms),
        "pre_claude_p50_ms": _percentile(pre_claude_ms, 50),
        "pre_claude_p99_ms": _percentile(pre_claude_ms, 99),
        "first_delta_p50_ms": _percentile(first_delta_ms, 50),
        "target": "pre_claude_p50_ms <= 20",
    }


def _percentile(values: list[float], percent: int) -> float:
    if not values:
        return float("nan")
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return round(statistics.median(values) if percent == 50 else cuts[percent - 1], 2)


def run() -> dict[str, object]:
    """Fill a store with 10k chunks and time the query path before Claude."""
    return asyncio.run(_measure())
