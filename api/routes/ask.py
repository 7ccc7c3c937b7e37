"""POST /v1/ask: an answer as server-sent events (default) or as one JSON object."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.sse import EventSourceResponse, format_sse_event

from api.agent_events import LOOP_EVENTS, iteration_limit_of, loop_payload, tool_calls_out
from api.deps import ServicesDep
from api.errors import request_id_of, status_of
from api.limits import StreamingCaller, check_request_limits
from api.schemas import (
    AskRequest,
    AskResponse,
    DryRunResponse,
    LayerCostOut,
    StructuredAnswerOut,
    ThinkingBudgetOption,
    ThinkingEffortOption,
    UsageOut,
)
from rag.agent import AgentEvent
from rag.answering import (
    AskOptions,
    Cited,
    Delta,
    Done,
    Failed,
    Retrieved,
    Thinking,
    Used,
)
from rag.dry_run import DryRunEstimate
from rag.errors import FeatureUnsupported, UpstreamRateLimited
from rag.generation import AnswerShape
from rag.thinking import ThinkingRequest

router = APIRouter(tags=["answering"])


@router.post(
    "/v1/ask",
    summary="Answer a question over the documents",
    response_model=AskResponse | DryRunResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def ask(
    body: AskRequest, caller: StreamingCaller, services: ServicesDep, request: Request
) -> Any:
    check_request_limits(services.settings, question=body.question, top_k=body.top_k)
    options = AskOptions(
        body.conversation_id,
        body.model,
        body.top_k,
        body.stream,
        shape=_shape(body),
        owner=caller.owner,
    )
    if body.dry_run and body.agentic:
        raise FeatureUnsupported(
            "dry_run cannot price an agentic ask: its cost depends on the searches Claude "
            "chooses to make; ask with one of them"
        )
    if body.dry_run:
        return dry_run_out(
            await services.asker.price(body.question, options, request_id_of(request))
        )
    events: AsyncGenerator[AgentEvent, None]
    if body.agentic:
        events = services.agent.ask(
            body.question, options, body.max_iterations, request_id_of(request)
        )
    else:
        events = services.asker.ask(body.question, options, request_id_of(request))
    # The first event comes after validation and retrieval: errors so far get a real status.
    first = await anext(events)
    if body.stream:
        return EventSourceResponse(_server_sent(first, events))
    return await _collected(first, events)


def dry_run_out(estimate: DryRunEstimate) -> DryRunResponse:
    """A dry run's estimate, as the API and the CLI show it."""
    return DryRunResponse(
        model=estimate.model,
        input_tokens=estimate.input_tokens,
        max_output_tokens=estimate.max_output_tokens,
        layers=[
            LayerCostOut(
                layer=part.layer.value, tokens=part.tokens, marked=part.marked, cached=part.cached
            )
            for part in estimate.layers
        ],
        answer_cached=estimate.answer_cached,
        predicted_cost_usd=_money(estimate.cost_usd),
        predicted_cost_without_cache_usd=_money(estimate.cost_without_cache_usd),
        predicted_input_cost_usd=_money(estimate.input_cost_usd),
        predicted_input_cost_without_cache_usd=_money(estimate.input_cost_without_cache_usd),
        assumption=estimate.assumption,
    )


def _shape(body: AskRequest) -> AnswerShape:
    thinking = body.thinking
    request: ThinkingRequest | None = None
    if isinstance(thinking, ThinkingBudgetOption):
        request = ThinkingRequest(budget_tokens=thinking.budget_tokens)
    elif isinstance(thinking, ThinkingEffortOption):
        request = ThinkingRequest(effort=thinking.effort)
    elif thinking is not None:
        request = ThinkingRequest(effort=thinking)
    return AnswerShape(body.format or "text", request)


async def _server_sent(
    first: AgentEvent, events: AsyncGenerator[AgentEvent, None]
) -> AsyncIterator[bytes]:
    async with aclosing(events):
        yield _sse(first)
        async for event in events:
            yield _sse(event)


async def _collected(first: AgentEvent, events: AsyncGenerator[AgentEvent, None]) -> AskResponse:
    async with aclosing(events):
        collected = [first] + [event async for event in events]
    for event in collected:
        if isinstance(event, Failed):
            raise event.error
    done = next(e for e in collected if isinstance(e, Done))
    used = next(e for e in collected if isinstance(e, Used))
    thinking = "".join(e.text for e in collected if isinstance(e, Thinking))
    structured = done.structured
    return AskResponse(
        conversation_id=done.conversation_id,
        model=done.model,
        answer=structured.answer if structured is not None else done.text,
        structured=StructuredAnswerOut(**structured.model_dump()) if structured else None,
        thinking=thinking or None,
        sources=[asdict(s) for s in done.sources],
        citations=[asdict(c) for c in done.citations],
        usage=usage_out(used),
        answer_cached=done.from_answer_cache,
        tool_calls=tool_calls_out(collected),
        iteration_limit=iteration_limit_of(collected),
    )


def _sse(event: AgentEvent) -> bytes:
    name, data = _payload(event)
    return format_sse_event(event=name, data_str=json.dumps(data, ensure_ascii=False))


def _payload(event: AgentEvent) -> tuple[str, Any]:
    if isinstance(event, LOOP_EVENTS):
        return loop_payload(event)
    if isinstance(event, Retrieved):
        sources = [asdict(s) for s in event.sources]
        return "retrieval", {"conversation_id": event.conversation_id, "sources": sources}
    if isinstance(event, Thinking):
        return "thinking", {"text": event.text}
    if isinstance(event, Delta):
        return "delta", {"text": event.text}
    if isinstance(event, Cited):
        return "citation", asdict(event.citation)
    if isinstance(event, Used):
        return "usage", usage_out(event).model_dump()
    if isinstance(event, Done):
        return "done", {
            "conversation_id": event.conversation_id,
            "model": event.model,
            "answer_cached": event.from_answer_cache,
            "sources": [asdict(s) for s in event.sources],
            "structured": event.structured.model_dump() if event.structured else None,
        }
    error: dict[str, Any] = {"type": status_of(event.error)[1], "message": str(event.error)}
    if isinstance(event.error, UpstreamRateLimited):
        # The stream's status is already 200: the wait travels in the event.
        error["retry_after_seconds"] = event.error.retry_after_seconds
    return "error", error


def usage_out(used: Used) -> UsageOut:
    """The usage of SPEC section 9, as the API and the CLI show it."""
    return UsageOut(
        input_tokens=used.usage.input_tokens,
        cache_creation_input_tokens=used.usage.cache_creation_input_tokens,
        cache_read_input_tokens=used.usage.cache_read_input_tokens,
        output_tokens=used.usage.output_tokens,
        cost_usd=_money(used.cost_usd),
        cost_without_cache_usd=_money(used.cost_without_cache_usd),
        saved_usd=_money(used.saved_usd),
        layer_hit=used.layer_hit.value,
    )


def _money(value: Decimal | None) -> float | None:
    return None if value is None else round(float(value), 8)
