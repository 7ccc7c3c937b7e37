"""Turn a CallRecord into a ledger row: priced, its cache hit attributed to a prompt layer.

Which layer hit: CallRecord.layer_hit when the caller knows it (an answer-cache hit), else the
deepest layer whose prefix the cache read covers. A read always starts at the top of the
prompt, so a read shorter than every known prefix still counts as a system-layer hit.

Savings per layer: the prompt is laid out as [read][1h writes][5m writes][uncached input]
(a 1h entry may not follow a 5m one), and the layers' prefix lengths cut it into system,
documents and conversation spans. Each read token saves (input rate - read rate); each written
token costs (write rate - input rate) more. A call's saving split this way sums to its
saved_usd exactly. Without prefix lengths the whole cached span counts to the system layer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rag.pricing import ModelRates, PriceSource, PriceTable
from rag.types import CacheLayer, CallRecord, Usage

PROMPT_LAYERS = (CacheLayer.SYSTEM, CacheLayer.DOCUMENTS, CacheLayer.CONVERSATION)
FIVE_MINUTES_MS = 5 * 60 * 1000
ONE_HOUR_MS = 60 * 60 * 1000
# Prefix lengths are the caller's count; the API's may differ by a few tokens.
_PREFIX_TOLERANCE = 0.95
_ERROR_CHARS = 512
_QUESTION_CHARS = 512


def utc_naive(moment: datetime) -> datetime:
    """Moment in UTC without tzinfo, the form the ledger stores."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch; a naive moment is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def layer_hit_of(record: CallRecord) -> CacheLayer:
    """The layer that served the call: given, or inferred from the cache read's length."""
    if record.layer_hit is not CacheLayer.NONE:
        return record.layer_hit
    read = record.usage.cache_read_input_tokens
    if read <= 0:
        return CacheLayer.NONE
    hit = CacheLayer.SYSTEM
    for layer in PROMPT_LAYERS:
        prefix = record.layer_prefix_tokens.get(layer, 0)
        if prefix > 0 and read >= prefix * _PREFIX_TOLERANCE:
            hit = layer
    return hit


def build_row(record: CallRecord, prices: PriceTable) -> dict[str, Any]:
    """The ledger row for record, ready to insert."""
    usage = record.usage
    started_ms = epoch_ms(record.started_at)
    rates = prices.rates_for(
        record.model, usage.prompt_tokens, batch=record.batch, at=record.started_at
    )
    layer = layer_hit_of(record)
    prefixes = {layer: record.layer_prefix_tokens.get(layer, 0) for layer in PROMPT_LAYERS}
    row: dict[str, Any] = {
        "started_at": utc_naive(record.started_at),
        "started_epoch_ms": started_ms,
        "feature": str(record.feature),
        "model": record.model,
        "conversation_id": record.conversation_id,
        "batch": record.batch,
        "input_tokens": usage.input_tokens,
        "cache_write_5m_tokens": usage.cache_creation_5m_input_tokens,
        "cache_write_1h_tokens": usage.cache_creation_1h_input_tokens,
        "cache_read_tokens": usage.cache_read_input_tokens,
        "output_tokens": usage.output_tokens,
        "latency_ms": record.latency_ms,
        "time_to_first_token_ms": record.time_to_first_token_ms,
        "request_id": record.request_id,
        "http_request_id": record.http_request_id,
        "owner_key": record.owner_key,
        "layer_hit": str(layer),
        "system_prefix_tokens": prefixes[CacheLayer.SYSTEM],
        "documents_prefix_tokens": prefixes[CacheLayer.DOCUMENTS],
        "conversation_prefix_tokens": prefixes[CacheLayer.CONVERSATION],
        "cache_miss_reason": record.cache_miss_reason,
        "cache_missed_tokens": record.cache_missed_input_tokens,
        "routed_from_model": record.routed_from_model,
        "cache_write_expires_epoch_ms": _write_expiry_ms(usage, started_ms),
        "cache_write_read_back_tokens": 0,
        "cache_prefix_fingerprints": " ".join(d for d, _ in record.prefix_fingerprints) or None,
        "cache_write_fingerprint": _write_fingerprint(record),
        "error": record.error[:_ERROR_CHARS] if record.error else None,
        "semantic_similarity": record.semantic_similarity,
        "semantic_question": (record.semantic_question or "")[:_QUESTION_CHARS] or None,
        "semantic_audit_agreed": record.semantic_audit_agreed,
        "output_estimated": record.output_estimated,
    }
    row.update(_money(record, rates, layer, prefixes, prices))
    return row


def _write_fingerprint(record: CallRecord) -> str | None:
    """The prefix the call's cache write ended at: the boundary nearest read + written tokens."""
    usage = record.usage
    if not usage.cache_creation_input_tokens or not record.prefix_fingerprints:
        return None
    end = usage.cache_read_input_tokens + usage.cache_creation_input_tokens
    digest, _ = min(record.prefix_fingerprints, key=lambda boundary: abs(boundary[1] - end))
    return digest


def _write_expiry_ms(usage: Usage, started_ms: int) -> int | None:
    if usage.cache_creation_1h_input_tokens:
        return started_ms + ONE_HOUR_MS
    if usage.cache_creation_5m_input_tokens:
        return started_ms + FIVE_MINUTES_MS
    return None


def _money(
    record: CallRecord,
    rates: ModelRates | None,
    layer: CacheLayer,
    prefixes: dict[CacheLayer, int],
    prices: PriceTable,
) -> dict[str, Any]:
    priced = prices.cost_of_record(record)
    cost, without_cache = priced.cost_usd, priced.cost_without_cache_usd
    if rates is None or cost is None or without_cache is None:
        return {
            "price_source": str(PriceSource.UNPRICED),
            "cost_usd": None,
            "cost_without_cache_usd": None,
            "saved_usd": None,
            "saved_system_usd": None,
            "saved_documents_usd": None,
            "saved_conversation_usd": None,
            "cache_missed_cost_usd": None,
            "avoided_cost_usd": None,
            "cache_write_premium_usd": None,
            "routing_saved_usd": None,
        }
    usage = record.usage
    by_layer = _saving_by_layer(usage, rates, prefixes)
    avoided_cost = None
    if record.avoided_usage is not None:
        avoided = prices.cost_of(
            record.model, record.avoided_usage, batch=record.batch, at=record.started_at
        )
        avoided_cost = float(avoided.cost_usd) if avoided.cost_usd is not None else None
    missed = record.cache_missed_input_tokens
    routing_saved = None
    if record.routed_from_model:
        passed_over = prices.cost_of(
            record.routed_from_model, usage, batch=record.batch, at=record.started_at
        )
        if passed_over.cost_usd is not None:
            routing_saved = float(passed_over.cost_usd - cost)
    return {
        "price_source": str(rates.source),
        "cost_usd": float(cost),
        "cost_without_cache_usd": float(without_cache),
        "saved_usd": float(without_cache - cost),
        "saved_system_usd": by_layer[CacheLayer.SYSTEM],
        "saved_documents_usd": by_layer[CacheLayer.DOCUMENTS],
        "saved_conversation_usd": by_layer[CacheLayer.CONVERSATION],
        "cache_missed_cost_usd": float(rates.miss_cost_usd(missed)) if missed else None,
        "avoided_cost_usd": avoided_cost,
        "cache_write_premium_usd": float(rates.write_premium_usd(usage)),
        "routing_saved_usd": routing_saved,
    }


def _saving_by_layer(
    usage: Usage, rates: ModelRates, prefixes: dict[CacheLayer, int]
) -> dict[CacheLayer, float]:
    spans = _layer_spans(prefixes)
    read_end = usage.cache_read_input_tokens
    write_1h_end = read_end + usage.cache_creation_1h_input_tokens
    write_5m_end = write_1h_end + usage.cache_creation_5m_input_tokens
    read_saving = float(rates.input_per_mtok - rates.cache_read_per_mtok) / 1e6
    premium_1h = float(rates.cache_write_1h_per_mtok - rates.input_per_mtok) / 1e6
    premium_5m = float(rates.cache_write_5m_per_mtok - rates.input_per_mtok) / 1e6
    saving = {}
    for layer, (start, end) in spans.items():
        saving[layer] = (
            _overlap(0, read_end, start, end) * read_saving
            - _overlap(read_end, write_1h_end, start, end) * premium_1h
            - _overlap(write_1h_end, write_5m_end, start, end) * premium_5m
        )
    return saving


def _layer_spans(prefixes: dict[CacheLayer, int]) -> dict[CacheLayer, tuple[float, float]]:
    """Each layer's [start, end) in the prompt; the last known layer runs to the end."""
    spans: dict[CacheLayer, tuple[float, float]] = {}
    start = 0.0
    last_known = CacheLayer.SYSTEM
    for layer in PROMPT_LAYERS:
        end = float(prefixes[layer]) if prefixes[layer] > start else start
        spans[layer] = (start, end)
        if end > start:
            last_known = layer
        start = end
    spans[last_known] = (spans[last_known][0], float("inf"))
    return spans


def _overlap(start: float, end: float, span_start: float, span_end: float) -> float:
    return max(0.0, min(end, span_end) - max(start, span_start))
