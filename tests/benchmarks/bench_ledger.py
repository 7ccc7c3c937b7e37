"""The ledger at 100k rows: how fast calls are recorded, and how fast the dashboard's queries run.

A month of traffic: ask, ask_stream and route calls over two models; most reuse a cached
prefix, some write one, a few miss with a reason, some are answer-cache hits.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rag.ledger import Ledger, database_url
from rag.types import CacheLayer, CallRecord, Feature, Usage

ROWS = 100_000
QUERY_RUNS = 5
_PREFIXES = {CacheLayer.SYSTEM: 1_200, CacheLayer.DOCUMENTS: 6_000}


def _records(count: int, seed: int = 7) -> list[CallRecord]:
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=30) / count
    records = []
    for index in range(count):
        kind = rng.random()
        model = "claude-haiku-5-5" if kind < 0.15 else "claude-sonnet-5-5"
        if kind < 0.1:
            usage, layer, avoided = Usage(), CacheLayer.ANSWER, Usage(50, 0, 0, 6_000, 300)
        elif kind < 0.3:
            usage, layer, avoided = Usage(60, 4_800, 0, 1_200, 300), CacheLayer.NONE, None
        else:
            usage, layer, avoided = (
                Usage(60, 0, 0, 6_000, rng.randint(50, 600)),
                CacheLayer.NONE,
                None,
            )
        missed = kind > 0.95
        records.append(
            CallRecord(
                feature=rng.choice((Feature.ASK, Feature.ASK_STREAM, Feature.ROUTE)),
                model=model,
                usage=usage,
                started_at=start + step * index,
                latency_ms=rng.uniform(300, 4_000),
                time_to_first_token_ms=rng.uniform(80, 900),
                request_id=f"req_{index}",
                conversation_id=f"conv_{index % 5_000}",
                layer_hit=layer,
                layer_prefix_tokens=_PREFIXES,
                cache_miss_reason="messages_changed" if missed else None,
                cache_missed_input_tokens=4_800 if missed else None,
                avoided_usage=avoided,
            )
        )
    return records


def _p50_ms(run: object) -> float:
    timings = []
    for _ in range(QUERY_RUNS):
        began = time.perf_counter()
        run()  # type: ignore[operator]
        timings.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(timings), 1)


def run() -> dict[str, object]:
    """Record ROWS calls into a fresh SQLite ledger, then time each dashboard query."""
    records = _records(ROWS)
    with tempfile.TemporaryDirectory() as home:
        ledger = Ledger.open(database_url(Path(home), None))
        began = time.perf_counter()
        for record in records:
            ledger.record(record)
        enqueued_s = time.perf_counter() - began
        ledger.flush(timeout_seconds=600)
        written_s = time.perf_counter() - began
        figures: dict[str, object] = {
            "rows": ROWS,
            "record_us_per_call": round(enqueued_s / ROWS * 1e6, 1),
            "written_rows_per_s": round(ROWS / written_s),
            "summary_p50_ms": _p50_ms(lambda: ledger.summary(group_by=("feature", "model", "day"))),
            "insights_p50_ms": _p50_ms(
                lambda: (ledger.layer_stats(), ledger.miss_reasons(), ledger.timeline())
            ),
            "requests_page_p50_ms": _p50_ms(lambda: ledger.requests(limit=20)),
            "most_expensive_p50_ms": _p50_ms(
                lambda: ledger.requests(limit=10, most_expensive=True)
            ),
        }
        ledger.close()
    return figures
