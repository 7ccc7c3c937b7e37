"""Spans of a real ask and a real batch arrive at an OTLP/HTTP receiver; with no endpoint, none."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.app import create_app
from api.serving import serve_in_thread
from rag.settings import Settings
from rag.tracing import NO_TRACING, open_tracing
from tests.batches.conftest import ALL_CHUNKS, MODELS, QUESTIONS, asked, recorded, submit


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    attributes: dict[str, Any]
    status_code: int
    duration_ns: int = 0


@dataclass
class Receiver:
    """Spans an OTLP/HTTP collector received, decoded from the protobuf export requests."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    service_names: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def named(self, name: str) -> list[ReceivedSpan]:
        with self.lock:
            return [s for s in self.spans if s.name == name]


def _value(any_value: Any) -> Any:
    return getattr(any_value, any_value.WhichOneof("value"))


def _receiver_app(receiver: Receiver) -> Starlette:
    async def traces(request: Request) -> Response:
        assert request.headers["content-type"] == "application/x-protobuf"
        export = ExportTraceServiceRequest.FromString(await request.body())
        with receiver.lock:
            for resource_spans in export.resource_spans:
                for attribute in resource_spans.resource.attributes:
                    if attribute.key == "service.name":
                        receiver.service_names.add(_value(attribute.value))
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        receiver.spans.append(
                            ReceivedSpan(
                                name=span.name,
                                trace_id=span.trace_id,
                                span_id=span.span_id,
                                parent_span_id=span.parent_span_id,
                                attributes={a.key: _value(a.value) for a in span.attributes},
                                status_code=span.status.code,
                                duration_ns=span.end_time_unix_nano - span.start_time_unix_nano,
                            )
                        )
        body = ExportTraceServiceResponse().SerializeToString()
        return Response(body, media_type="application/x-protobuf")

    return Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def otlp_endpoint(receiver: Receiver) -> Iterator[str]:
    with serve_in_thread(_receiver_app(receiver)) as url:
        yield url


@pytest.fixture
def traced_app(settings_for: Callable[..., Settings], otlp_endpoint: str) -> Callable[[], Any]:
    """Serve Strata exporting to the receiver; leaving the block shuts it down, exporting all."""
    return lambda: serve_in_thread(create_app(settings_for(otlp_endpoint=otlp_endpoint)))


@pytest.mark.parametrize("model", MODELS)
def test_an_ask_exports_retrieval_prompt_and_claude_spans_with_token_and_cache_attributes(
    traced_app: Callable[[], Any], receiver: Receiver, model: str
):
    with traced_app() as url, httpx.Client(base_url=url, timeout=60) as http:
        for question in QUESTIONS[:2]:
            body = {"question": question, "stream": False, "model": model, "top_k": ALL_CHUNKS}
            response = http.post("/v1/ask", json=body)
            assert response.status_code == 200, response.text
        last = response.json()

    assert receiver.service_names == {"strata"}
    asks = receiver.named("strata.ask")
    calls = receiver.named("claude.messages")
    assert len(asks) == 2
    assert len(calls) == 2
    for ask in asks:
        children = {s.name: s for s in receiver.spans if s.parent_span_id == ask.span_id}
        assert set(children) == {"strata.retrieval", "strata.prompt", "claude.messages"}
        assert all(child.trace_id == ask.trace_id for child in children.values())
        assert children["strata.retrieval"].attributes["strata.chunks"] == ALL_CHUNKS
        assert children["strata.prompt"].attributes["strata.chunks"] == ALL_CHUNKS
        assert ask.attributes["gen_ai.request.model"] == model

    first, second = sorted(
        calls, key=lambda s: s.attributes["gen_ai.usage.cache_read.input_tokens"]
    )
    for call in calls:
        attributes = call.attributes
        assert attributes["gen_ai.request.model"] == model
        assert attributes["strata.feature"] == "ask"
        assert attributes["strata.request_id"].startswith("req_")
        assert attributes["gen_ai.usage.input_tokens"] > 0
        assert attributes["gen_ai.usage.output_tokens"] > 0
        assert call.status_code != 2  # not STATUS_CODE_ERROR
    # The second question shares the first one's chunks: its documents layer is read back.
    assert first.attributes["gen_ai.usage.cache_creation.input_tokens"] > 0
    assert second.attributes["gen_ai.usage.cache_read.input_tokens"] > 0
    assert second.attributes["strata.layer_hit"] == "documents"
    usage = last["usage"]
    assert (
        second.attributes["gen_ai.usage.cache_read.input_tokens"]
        == (usage["cache_read_input_tokens"])
    )
    assert second.attributes["gen_ai.usage.output_tokens"] == usage["output_tokens"]


def test_a_batch_exports_its_submission_and_one_claude_span_per_answered_question(
    traced_app: Callable[[], Any], receiver: Receiver
):
    with traced_app() as url, httpx.Client(base_url=url, timeout=60) as http:
        batch = submit(http, {"questions": asked(QUESTIONS), "top_k": ALL_CHUNKS})
        recorded(http, batch["id"])

    (submitted,) = receiver.named("strata.batch.submit")
    under_submit = [s.name for s in receiver.spans if s.parent_span_id == submitted.span_id]
    assert sorted(under_submit) == ["claude.batches.create"] + ["strata.retrieval"] * 3
    (collected,) = receiver.named("strata.batch.collect")
    calls = [s for s in receiver.spans if s.parent_span_id == collected.span_id]
    assert len(calls) == len(QUESTIONS)
    assert all(c.attributes["strata.batch"] is True for c in calls)
    assert all(c.attributes["strata.feature"] == "batch" for c in calls)
    assert sum(c.attributes["gen_ai.usage.cache_read.input_tokens"] > 0 for c in calls) == 2


def test_with_no_endpoint_tracing_is_off_and_creates_no_exporter():
    tracing = open_tracing(None)
    assert tracing is NO_TRACING
    assert not tracing.enabled
    with tracing.span("strata.ask") as span, tracing.span("strata.retrieval", span) as child:
        child.set({"strata.chunks": 3})
    assert not open_tracing("").enabled
    exporting = open_tracing("http://127.0.0.1:4318")
    assert exporting.enabled
    exporting.shutdown()


def test_routing_and_dry_run_calls_export_claude_spans_timed_from_their_records(
    settings_for: Callable[..., Settings], otlp_endpoint: str, receiver: Receiver
):
    settings = settings_for(otlp_endpoint=otlp_endpoint, routing=True)
    with (
        serve_in_thread(create_app(settings)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        priced = http.post("/v1/ask", json={"question": QUESTIONS[0], "dry_run": True})
        assert priced.status_code == 200, priced.text
        answered = http.post("/v1/ask", json={"question": QUESTIONS[1], "stream": False})
        assert answered.status_code == 200, answered.text

    by_feature: dict[str, list[ReceivedSpan]] = {}
    for span in receiver.named("claude.messages"):
        by_feature.setdefault(span.attributes["strata.feature"], []).append(span)
    assert {"route", "count", "ask"} <= set(by_feature)
    (count,) = by_feature["count"]
    assert count.attributes["strata.request_id"].startswith("req_")
    for route in by_feature["route"]:
        assert route.attributes["gen_ai.request.model"] == settings.fast_model
        assert route.attributes["gen_ai.usage.input_tokens"] > 0
        assert route.attributes["strata.request_id"].startswith("req_")
        assert route.status_code != 2  # not STATUS_CODE_ERROR
        assert route.duration_ns > 0
