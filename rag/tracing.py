"""Traces of the question path: retrieval, prompt assembly and each Claude call.

The only module that imports opentelemetry. With no OTLP endpoint configured, tracing is off:
span() yields one shared do-nothing span and touches no OpenTelemetry object, so the cost is
a context manager per step. With an endpoint, spans are batched in memory and exported over
OTLP/HTTP (protobuf, to `<endpoint>/v1/traces`) from a background thread, never on the
request path.

Parents are passed explicitly instead of through the ambient context: an answer is an async
generator whose steps may run in different tasks, and a context attached in one task cannot
be detached in another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Status, StatusCode

from rag.prompt import LayeredPrompt
from rag.types import CallRecord

AttributeValue = str | int | float | bool
_TRACER_NAME = "strata"


class TraceSpan:
    """One step being traced; a span without an OpenTelemetry span records nothing."""

    __slots__ = ("_span",)

    def __init__(self, span: Span | None = None) -> None:
        self._span = span

    def set(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        """Add attributes; None values are left out."""
        if self._span is not None:
            self._span.set_attributes({k: v for k, v in attributes.items() if v is not None})

    def end(
        self,
        attributes: Mapping[str, AttributeValue | None] | None = None,
        error: str | None = None,
        end_time_ns: int | None = None,
    ) -> None:
        """Close the span with its last attributes, marked failed when error is given."""
        if self._span is None:
            return
        self.set(attributes or {})
        if error is not None:
            self._span.set_status(Status(StatusCode.ERROR, error))
        self._span.end(end_time=end_time_ns)


_OFF = TraceSpan()
# Reusable: entering it has no state, so tracing off costs one method call per step.
_OFF_SCOPE = nullcontext(_OFF)


class Tracing:
    """Opens spans; does nothing unless built with a tracer provider."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer(_TRACER_NAME) if provider is not None else None

    @property
    def enabled(self) -> bool:
        """True when spans are exported."""
        return self._tracer is not None

    def start(
        self,
        name: str,
        parent: TraceSpan | None = None,
        attributes: Mapping[str, AttributeValue | None] | None = None,
        start_time_ns: int | None = None,
    ) -> TraceSpan:
        """A span begun now (or at start_time_ns), child of parent; the caller ends it."""
        if self._tracer is None:
            return _OFF
        context = None
        if parent is not None and parent._span is not None:
            context = trace.set_span_in_context(parent._span)
        traced = TraceSpan(self._tracer.start_span(name, context=context, start_time=start_time_ns))
        traced.set(attributes or {})
        return traced

    def record_call(self, record: CallRecord, parent: TraceSpan | None = None) -> None:
        """A `claude.messages` span for a call already made, timed from its ledger record.

        For the calls made outside an ask (routing, counting, vision), which open no span
        while they run: the record carries when the call started and how long it took.
        """
        if self._tracer is None:
            return
        start_ns = int(record.started_at.timestamp() * 1_000_000_000)
        span = self.start("claude.messages", parent, start_time_ns=start_ns)
        end_ns = start_ns + int(record.latency_ms * 1_000_000)
        span.end(call_attributes(record), record.error, end_time_ns=end_ns)

    def span(
        self,
        name: str,
        parent: TraceSpan | None = None,
        attributes: Mapping[str, AttributeValue | None] | None = None,
    ) -> AbstractContextManager[TraceSpan]:
        """A span around the block; an exception marks it failed, a cancellation does not."""
        if self._tracer is None:
            return _OFF_SCOPE
        return self._recorded(name, parent, attributes)

    @contextmanager
    def _recorded(
        self,
        name: str,
        parent: TraceSpan | None,
        attributes: Mapping[str, AttributeValue | None] | None,
    ) -> Iterator[TraceSpan]:
        traced = self.start(name, parent, attributes)
        try:
            yield traced
        except (GeneratorExit, asyncio.CancelledError):
            traced.end({"strata.cancelled": True})
            raise
        except BaseException as exc:
            traced.end(error=f"{type(exc).__name__}: {exc}")
            raise
        traced.end()

    def shutdown(self) -> None:
        """Export what is buffered and stop the exporter."""
        if self._provider is not None:
            self._provider.shutdown()


NO_TRACING = Tracing()


def open_tracing(endpoint: str | None, service_name: str = "strata") -> Tracing:
    """Tracing that exports to the OTLP/HTTP collector at endpoint; off when it is None."""
    if not endpoint:
        return NO_TRACING
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider)


def call_attributes(record: CallRecord) -> dict[str, AttributeValue | None]:
    """A Claude call's span attributes, from the record the ledger gets for it."""
    usage = record.usage
    return {
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": record.model,
        "gen_ai.usage.input_tokens": usage.input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": usage.cache_read_input_tokens,
        "gen_ai.usage.cache_creation.input_tokens": usage.cache_creation_input_tokens,
        "strata.feature": str(record.feature),
        "strata.batch": record.batch,
        "strata.cache_creation_5m_input_tokens": usage.cache_creation_5m_input_tokens,
        "strata.cache_creation_1h_input_tokens": usage.cache_creation_1h_input_tokens,
        "strata.request_id": record.request_id,
        "strata.layer_hit": str(record.layer_hit),
        "strata.cache_miss_reason": record.cache_miss_reason,
        "strata.time_to_first_token_ms": record.time_to_first_token_ms,
        "strata.error": record.error,
    }


def prompt_attributes(prompt: LayeredPrompt) -> dict[str, AttributeValue | None]:
    """What the prompt assembly decided: chunks, marked layers, each layer's estimated size."""
    attributes: dict[str, AttributeValue | None] = {
        "strata.chunks": len(prompt.chunks),
        "strata.marked_layers": ",".join(prompt.marked_layers),
    }
    for layer, tokens in prompt.layer_prefix_tokens.items():
        attributes[f"strata.{layer}_prefix_tokens"] = tokens
    return attributes
