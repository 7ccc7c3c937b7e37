"""GET /metrics: the ledger's figures in the Prometheus text format.

Read from the ledger at scrape time, so they match /v1/usage/summary, survive restarts and,
with PostgreSQL, cover every replica (scrape one, or do not sum across replicas).
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from api.deps import ServicesDep, ViewerCaller
from rag.ledger import LatencyHistogram, Ledger

router = APIRouter(tags=["usage"])

_LATENCY_BOUNDS_MS = (100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0, 30_000.0, 60_000.0)
_TOKEN_KINDS = (
    ("input", "input_tokens"),
    ("cache_write_5m", "cache_creation_5m_input_tokens"),
    ("cache_write_1h", "cache_creation_1h_input_tokens"),
    ("cache_read", "cache_read_input_tokens"),
    ("output", "output_tokens"),
)


class LedgerCollector(Collector):
    """Builds every metric family from one pass of ledger queries."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def collect(self) -> Iterator[Metric]:
        labels = ["feature", "model"]
        calls = CounterMetricFamily("strata_claude_calls", "Claude calls recorded.", labels=labels)
        unpriced = CounterMetricFamily(
            "strata_claude_unpriced_calls", "Calls on models with no known price.", labels=labels
        )
        tokens = CounterMetricFamily(
            "strata_claude_tokens", "Tokens billed, by kind.", labels=[*labels, "kind"]
        )
        cost = CounterMetricFamily("strata_claude_cost_usd", "Money spent.", labels=labels)
        without = CounterMetricFamily(
            "strata_claude_cost_without_cache_usd",
            "What the same calls would have cost with no caching.",
            labels=labels,
        )
        saved = GaugeMetricFamily(
            "strata_cache_saved_usd",
            "Net saving of caching; write premiums count against it.",
            labels=labels,
        )
        answer_hits = CounterMetricFamily(
            "strata_answer_cache_hits", "Questions answered from the answer cache.", labels=labels
        )
        for (feature, model), sums in self._ledger.totals_by_feature_and_model():
            values = [str(feature), str(model)]
            calls.add_metric(values, sums.calls)
            unpriced.add_metric(values, sums.unpriced_calls)
            for kind, field in _TOKEN_KINDS:
                tokens.add_metric([*values, kind], getattr(sums, field))
            cost.add_metric(values, sums.cost_usd)
            without.add_metric(values, sums.cost_without_cache_usd)
            saved.add_metric(values, sums.saved_usd)
            answer_hits.add_metric(values, sums.answer_cache_hits)
        yield from (calls, unpriced, tokens, cost, without, saved, answer_hits)
        yield from self._layers()
        yield _histogram(
            "strata_claude_latency_seconds",
            "Claude call duration.",
            self._ledger.latency_histogram(_LATENCY_BOUNDS_MS),
        )
        yield _histogram(
            "strata_claude_time_to_first_token_seconds",
            "Time to the first streamed token.",
            self._ledger.latency_histogram(_LATENCY_BOUNDS_MS, first_token=True),
        )

    def _layers(self) -> Iterator[Metric]:
        ratio = GaugeMetricFamily(
            "strata_cache_hit_ratio",
            "Share of the calls carrying a cache layer that the layer served.",
            labels=["layer"],
        )
        layer_saved = GaugeMetricFamily(
            "strata_cache_layer_saved_usd", "Net saving of each cache layer.", labels=["layer"]
        )
        for stats in self._ledger.layer_stats():
            if stats.hit_rate is not None:
                ratio.add_metric([stats.layer], stats.hit_rate)
            layer_saved.add_metric([stats.layer], stats.saved_usd)
        wasted = self._ledger.summary(group_by=()).wasted_writes
        wasted_tokens = GaugeMetricFamily(
            "strata_cache_wasted_write_tokens",
            "Cache-written tokens no call read back before they expired.",
            value=wasted.tokens,
        )
        wasted_usd = GaugeMetricFamily(
            "strata_cache_wasted_write_usd",
            "Write premium paid on tokens never read back.",
            value=wasted.usd,
        )
        yield from (ratio, layer_saved, wasted_tokens, wasted_usd)


def _histogram(name: str, documentation: str, histogram: LatencyHistogram) -> Metric:
    family = HistogramMetricFamily(name, documentation, labels=["feature"])
    for feature, (counts, total, sum_ms) in sorted(histogram.by_feature.items()):
        buckets = [
            (f"{bound / 1000:g}", count)
            for bound, count in zip(histogram.bounds_ms, counts, strict=True)
        ]
        buckets.append(("+Inf", total))
        family.add_metric([feature], buckets, sum_ms / 1000)
    return family


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics: calls, tokens, cost, savings, latency",
)
def metrics(caller: ViewerCaller, services: ServicesDep) -> PlainTextResponse:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(services.ledger))
    return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
