"""The one place that times a Claude call and writes its ledger row and its trace span.

    with recorded_call(ledger, tracing, Feature.ASK, model, trace, prompt=prompt) as call:
        async for event in claude.stream(request, call.meter): ...

The row is written however the block ends: normally, with an upstream error (its message is
the row's error), or cut short when the consumer goes away (with the usage seen so far).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from rag.errors import UpstreamError
from rag.llm import CallMeter
from rag.prompt import LayeredPrompt, prefix_boundaries
from rag.tracing import TraceSpan, Tracing, call_attributes
from rag.types import CacheLayer, CallRecord, Feature, Usage


class Ledger(Protocol):
    """Where call records go (rag.ledger.Ledger, or a list in a test)."""

    def record(self, record: CallRecord) -> None: ...


@dataclass
class RecordedCall:
    """A call under way: the meter to pass to Claude, and what its row says beyond the meter."""

    meter: CallMeter = field(default_factory=CallMeter)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The prompt sent, so the row can say which layer the cache read reached.
    prompt: LayeredPrompt | None = None
    # Where layers end when there is no LayeredPrompt (e.g. the routing prefix).
    layer_prefix_tokens: dict[CacheLayer, int] = field(default_factory=dict)
    failure: UpstreamError | None = None
    # The row as written, once the block has ended.
    record: CallRecord | None = None
    # Further CallRecord fields the block learns as it goes (e.g. a semantic audit's verdict).
    details: dict[str, Any] = field(default_factory=dict)

    def annotate(self, **details: Any) -> None:
        """Set further CallRecord fields of the row."""
        self.details.update(details)


@contextmanager
def recorded_call(
    ledger: Ledger,
    tracing: Tracing,
    feature: Feature,
    model: str,
    trace: TraceSpan | None = None,
    *,
    prompt: LayeredPrompt | None = None,
    layer_prefix_tokens: dict[CacheLayer, int] | None = None,
    conversation_id: str | None = None,
    http_request_id: str | None = None,
    routed_from_model: str | None = None,
) -> Iterator[RecordedCall]:
    """Time the call made in the block; write its ledger row and end its span on the way out.

    An UpstreamError raised in the block is recorded and raised on; one the block catches
    itself is recorded if it is stored in call.failure.
    """
    call = RecordedCall(prompt=prompt, layer_prefix_tokens=dict(layer_prefix_tokens or {}))
    span = tracing.start(
        "claude.messages", trace, {"gen_ai.request.model": model, "strata.feature": feature}
    )
    try:
        yield call
    except UpstreamError as exc:
        call.failure = exc
        raise
    finally:
        record = replace(
            call_record(feature, model, call),
            conversation_id=conversation_id,
            http_request_id=http_request_id,
            routed_from_model=routed_from_model,
            **call.details,
        )
        call.record = record
        ledger.record(record)
        span.end(call_attributes(record), record.error)


def call_record(feature: Feature, model: str, call: RecordedCall) -> CallRecord:
    """The ledger record of call, as far as its meter saw it."""
    meter = call.meter
    prefixes = dict(call.layer_prefix_tokens)
    hit = CacheLayer.NONE
    fingerprints: tuple[tuple[str, int], ...] = ()
    if call.prompt is not None:
        prefixes = calibrated_prefixes(meter.usage, call.prompt)
        hit = layer_hit(meter.usage, call.prompt)
        scale = _scale(meter.usage, call.prompt)
        fingerprints = tuple(
            (digest, round(tokens * scale)) for digest, tokens in prefix_boundaries(call.prompt)
        )
    return CallRecord(
        feature=feature,
        model=model,
        usage=meter.usage,
        started_at=call.started_at,
        latency_ms=round((time.perf_counter() - meter.started_at) * 1000, 3),
        time_to_first_token_ms=meter.time_to_first_token_ms,
        request_id=meter.request_id,
        layer_hit=hit,
        layer_prefix_tokens=prefixes,
        cache_miss_reason=meter.cache_miss_reason,
        cache_missed_input_tokens=meter.cache_missed_input_tokens,
        error=str(call.failure) if call.failure is not None else None,
        prefix_fingerprints=fingerprints,
        output_estimated=meter.output_estimated,
    )


def calibrated_prefixes(usage: Usage, prompt: LayeredPrompt) -> dict[CacheLayer, int]:
    """Each layer's prefix in the API's tokens: the estimates scaled to the reported total."""
    scale = _scale(usage, prompt)
    return {layer: round(tokens * scale) for layer, tokens in prompt.layer_prefix_tokens.items()}


def _scale(usage: Usage, prompt: LayeredPrompt) -> float:
    """The API's prompt tokens over the estimate (1.0 before the API has counted any)."""
    if usage.prompt_tokens <= 0 or prompt.prompt_tokens <= 0:
        return 1.0
    return usage.prompt_tokens / prompt.prompt_tokens


def layer_hit(usage: Usage, prompt: LayeredPrompt) -> CacheLayer:
    """The deepest layer the cache read reached into.

    A read ends where an earlier request's entry ended: at a prefix boundary (the system
    layer, the documents block, or a message). The read is taken to end at the boundary
    nearest to its size, in estimates scaled to the API's total, and that boundary's layer is
    the one hit. A conversation's newest turn was never in an earlier request, so its layer is
    read back only up to a turn before; and a turn can be small beside a large documents
    block, which a share of slack around the block's size would swallow.
    """
    read = usage.cache_read_input_tokens
    if read <= 0:
        return CacheLayer.NONE
    scale = _scale(usage, prompt)
    layers = [CacheLayer.SYSTEM]
    if prompt.block_chunks:
        layers.append(CacheLayer.DOCUMENTS)
    boundaries = prefix_boundaries(prompt)
    layers += [CacheLayer.CONVERSATION] * (len(boundaries) - len(layers))
    nearest = min(range(len(boundaries)), key=lambda i: (abs(boundaries[i][1] * scale - read), -i))
    return layers[nearest]
