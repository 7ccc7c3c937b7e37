"""The Claude adapter: the only module that imports anthropic.

Construction (one AsyncAnthropic with the SDK's own retries off) stays apart from translation
(Strata's request in, Strata's events, Usage and errors out). Tenacity is the one retry layer:
429, 5xx (529 included), broken connections and an SSE `error` event of a transient type
(`overloaded_error`...) are retried with exponential backoff and jitter, honouring
retry-after, a capped number of times, and only until the first piece of the answer: nothing
is retried once a byte may have reached the caller. Other 4xx are never retried. A 429 whose
retry-after is longer than the longest wait fails at once (UpstreamRateLimited, with that
retry-after), instead of retrying early into another 429.

A stream that ends before `message_delta` (cut, failed, or left by the caller) never got the
API's output count: its output tokens are estimated from the streamed text and flagged so.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import anthropic
import httpx2
from anthropic.lib.streaming import AsyncMessageStream, AsyncMessageStreamManager
from anthropic.types import Message
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.wait import wait_random_exponential

from rag.errors import UpstreamRateLimited, UpstreamRejected, UpstreamUnavailable
from rag.tokens import estimate_text_tokens
from rag.types import Usage

_T = TypeVar("_T")
# Error types of an SSE `error` event (which arrives on a 200 response) worth another attempt.
_TRANSIENT_ERROR_TYPES = frozenset(
    {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}
)


@dataclass(frozen=True, slots=True)
class ClaudeRequest:
    """One Messages API call: model, limits, and the prompt's system/tools/messages."""

    model: str
    max_tokens: int
    prompt: Mapping[str, Any]
    # The id of the previous response of the same conversation, for cache diagnostics.
    previous_message_id: str | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class CallMeter:
    """What a call has used so far; filled as the stream goes, so a cut-short call still knows."""

    usage: Usage = field(default_factory=Usage)
    request_id: str | None = None
    message_id: str | None = None
    time_to_first_token_ms: float | None = None
    cache_miss_reason: str | None = None
    cache_missed_input_tokens: int | None = None
    stop_reason: str | None = None
    # True when the stream ended before message_delta: output_tokens is an estimate from the
    # streamed text, not the API's count.
    output_estimated: bool = False
    attempts: int = 0
    started_at: float = field(default_factory=time.perf_counter)
    # The reply's content blocks as the API sent them: a tool loop sends them back unmodified
    # (thinking blocks keep their signature, tool_use blocks their id).
    content: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class CitationDelta:
    """A citation of a search_result block (by its index in the request)."""

    search_result_index: int
    cited_text: str
    source: str
    title: str | None


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    """A piece of the model's visible thinking."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolInput:
    """A complete tool_use block: the tool's name and its input, parsed."""

    name: str
    input: dict[str, Any]
    tool_use_id: str | None = None


ClaudeEvent = TextDelta | CitationDelta | ThinkingDelta | ToolInput


@dataclass(frozen=True, slots=True)
class BatchState:
    """Where a Message Batch stands; counts stay at `processing` until the whole batch ends."""

    batch_id: str
    processing_status: str  # in_progress | canceling | ended
    counts: dict[str, int]  # processing, succeeded, errored, canceled, expired

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"


@dataclass(frozen=True, slots=True)
class BatchLine:
    """One request's outcome in an ended batch: its answer events and usage, or why not."""

    custom_id: str
    status: str  # succeeded | errored | canceled | expired
    events: tuple[ClaudeEvent, ...] = ()
    usage: Usage = field(default_factory=Usage)
    message_id: str | None = None
    stop_reason: str | None = None
    cache_miss_reason: str | None = None
    cache_missed_input_tokens: int | None = None
    error: str | None = None


@dataclass(slots=True)
class _Opened:
    """A stream read up to its first piece of answer (None if it ended without one)."""

    manager: AsyncMessageStreamManager[None]
    stream: AsyncMessageStream[None]
    first: ClaudeEvent | None
    # message_delta was read: the usage is the API's final count.
    final: bool = False


def is_transient(exc: BaseException) -> bool:
    """What is worth retrying.

    Rate limits, 5xx (529 included), broken connections, and an SSE `error` event of a
    transient type.
    """
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        return True
    if not isinstance(exc, anthropic.APIStatusError):
        return False
    if exc.status_code == 429 or exc.status_code >= 500:
        return True
    # An SSE `error` event is raised with the stream's 200 status and its type from the data.
    return exc.status_code == 200 and exc.type in _TRANSIENT_ERROR_TYPES


class Claude:
    """Streams answers from Claude (or the emulator) through the official SDK."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        max_attempts: int = 4,
        max_wait_seconds: float = 30.0,
        timeout_seconds: float = 120.0,
    ) -> None:
        # max_retries=0: the SDK would retry twice on its own, multiplying tenacity's attempts.
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_seconds
        )
        self._max_attempts = max_attempts
        self._max_wait_seconds = max_wait_seconds
        self._backoff = wait_random_exponential(multiplier=0.5, max=8)

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    async def stream(
        self, request: ClaudeRequest, meter: CallMeter
    ) -> AsyncGenerator[ClaudeEvent, None]:
        """Text and citation events of the answer; meter holds usage even if the caller leaves.

        Raises UpstreamUnavailable when transient failures outlast the retries or the stream
        breaks after it began, and UpstreamRejected when Claude refuses the request.
        """
        retrying = self._retrying()
        try:
            opened: _Opened = await retrying(self._open, request, meter)
        except (anthropic.APIError, httpx2.TransportError) as exc:
            raise _translated(exc, meter.attempts) from exc
        stream = opened.stream
        try:
            if opened.first is not None:
                yield opened.first
            async for event in stream:
                opened.final = opened.final or event.type == "message_delta"
                translated = _event(event)
                if translated is not None:
                    yield translated
        except (anthropic.APIError, httpx2.TransportError) as exc:
            raise UpstreamUnavailable(f"Claude stopped mid-answer: {_message(exc)}") from exc
        finally:
            _read_snapshot(stream.current_message_snapshot, meter)
            if not opened.final:
                _estimate_output(stream.current_message_snapshot, meter)
            # Shielded: when the caller is cancelled, the upstream response must still close.
            await asyncio.shield(opened.manager.__aexit__(None, None, None))

    async def complete(self, request: ClaudeRequest, meter: CallMeter) -> str:
        """The whole text of the answer (streamed, so long outputs never hit a read timeout).

        Retried and translated like stream(); meter holds usage even when the call fails.
        """
        parts = [e.text async for e in self.stream(request, meter) if isinstance(e, TextDelta)]
        return "".join(parts)

    async def count_tokens(self, request: ClaudeRequest, meter: CallMeter) -> int:
        """The whole prompt's input tokens by the count endpoint; nothing is generated.

        Retried like any call; max_tokens and diagnostics are not part of a count.
        """
        try:
            counted: int = await self._retrying()(self._count, request, meter)
        except (anthropic.APIError, httpx2.TransportError) as exc:
            raise _translated(exc, meter.attempts) from exc
        return counted

    async def _count(self, request: ClaudeRequest, meter: CallMeter) -> int:
        meter.attempts += 1
        response = await self._client.messages.with_raw_response.count_tokens(
            model=request.model,
            extra_headers=dict(request.extra_headers) or None,
            **request.prompt,
        )
        meter.request_id = response.request_id
        return (await response.parse()).input_tokens

    async def create_batch(self, requests: Sequence[tuple[str, ClaudeRequest]]) -> BatchState:
        """Submit requests (custom_id, request) as one Message Batch, at half price.

        Only 429 and 529 are retried: the API accepted nothing then, whereas a retried 500 or
        lost connection could leave two batches that are both billed.
        """
        body = [{"custom_id": custom_id, "params": _params(r)} for custom_id, r in requests]
        retrying = AsyncRetrying(
            retry=retry_if_exception(_refused_for_load),
            stop=self._stop,
            wait=self._wait,
            reraise=True,
        )
        try:
            batch: MessageBatch = await retrying(
                self._client.messages.batches.create, requests=body
            )
        except (anthropic.APIError, httpx2.TransportError) as exc:
            raise _translated(exc, retrying.statistics.get("attempt_number", 1)) from exc
        return _batch_state(batch)

    async def retrieve_batch(self, batch_id: str) -> BatchState:
        """The batch's processing status and request counts."""
        batch = await self._batch_call(self._client.messages.batches.retrieve, batch_id)
        return _batch_state(batch)

    async def cancel_batch(self, batch_id: str) -> BatchState:
        """Ask the API to stop the batch; requests not yet processed end `canceled`."""
        batch = await self._batch_call(self._client.messages.batches.cancel, batch_id)
        return _batch_state(batch)

    async def batch_results(self, batch_id: str) -> list[BatchLine]:
        """Every line of an ended batch, read from its results URL (JSONL)."""
        return list(await self._batch_call(self._read_results, batch_id))

    async def _read_results(self, batch_id: str) -> list[BatchLine]:
        lines = await self._client.messages.batches.results(batch_id)
        return [_batch_line(line) async for line in lines]

    async def _batch_call(self, call: Callable[[str], Awaitable[_T]], batch_id: str) -> _T:
        retrying = self._retrying()
        try:
            result: _T = await retrying(call, batch_id)
        except (anthropic.APIError, httpx2.TransportError) as exc:
            raise _translated(exc, retrying.statistics.get("attempt_number", 1)) from exc
        return result

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(is_transient),
            stop=self._stop,
            wait=self._wait,
            reraise=True,
        )

    async def _open(self, request: ClaudeRequest, meter: CallMeter) -> _Opened:
        """Send the request and read up to the first piece of the answer; retried as a whole.

        Nothing has reached the caller yet, so an error event before any text is retried.
        """
        meter.attempts += 1
        manager = self._client.messages.stream(
            model=request.model,
            max_tokens=request.max_tokens,
            diagnostics={"previous_message_id": request.previous_message_id},
            extra_headers=dict(request.extra_headers) or None,
            **request.prompt,
        )
        stream = await manager.__aenter__()
        opened = _Opened(manager, stream, None)
        try:
            meter.request_id = stream.request_id
            started = False
            while opened.first is None:
                try:
                    event = await stream.__anext__()
                except StopAsyncIteration:
                    if not started:
                        raise UpstreamUnavailable(
                            "Claude's answer stream ended before it began"
                        ) from None
                    break
                if event.type == "message_start":
                    started = True
                    _read_snapshot(event.message, meter)
                opened.final = opened.final or event.type == "message_delta"
                opened.first = _event(event)
        except BaseException:
            await manager.__aexit__(None, None, None)
            raise
        if opened.first is not None:
            meter.time_to_first_token_ms = _ms_since(meter.started_at)
        return opened

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = retry_after_seconds(exc)
        if hinted is not None:
            return hinted
        return float(self._backoff(state))

    def _stop(self, state: RetryCallState) -> bool:
        """Out of attempts, or told to wait past the longest wait (an earlier retry: a 429)."""
        exc = state.outcome.exception() if state.outcome else None
        hinted = retry_after_seconds(exc)
        too_long = hinted is not None and hinted > self._max_wait_seconds
        return too_long or state.attempt_number >= self._max_attempts


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """The wait a 429 or 5xx asks for: retry-after-ms, else retry-after (seconds or a date)."""
    if not isinstance(exc, anthropic.APIStatusError):
        return None
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            seconds = _seconds_until(value) if name == "retry-after" else 0.0
        if seconds > 0:
            return seconds
    return None


def _seconds_until(http_date: str) -> float:
    try:
        return parsedate_to_datetime(http_date).timestamp() - time.time()
    except (TypeError, ValueError):
        return 0.0


def _estimate_output(message: Message, meter: CallMeter) -> None:
    """Output tokens of a stream that ended before the API's count, from its streamed text."""
    streamed = []
    for block in message.content:
        if block.type == "text":
            streamed.append(block.text)
        elif block.type == "thinking":
            streamed.append(block.thinking)
        elif block.type == "tool_use":
            streamed.append(json.dumps(block.input))
    estimate = sum(estimate_text_tokens(text) for text in streamed)
    meter.usage = replace(meter.usage, output_tokens=max(meter.usage.output_tokens, estimate))
    meter.output_estimated = True


def _event(event: Any) -> ClaudeEvent | None:
    if event.type == "text":
        return TextDelta(event.text) if event.text else None
    if event.type == "thinking":
        return ThinkingDelta(event.thinking) if event.thinking else None
    if event.type == "content_block_stop" and event.content_block.type == "tool_use":
        block = event.content_block
        return ToolInput(block.name, dict(block.input), block.id)
    if event.type == "citation" and event.citation.type == "search_result_location":
        citation = event.citation
        return CitationDelta(
            citation.search_result_index, citation.cited_text, citation.source, citation.title
        )
    return None


def _read_snapshot(message: Message, meter: CallMeter) -> None:
    meter.message_id = message.id
    meter.stop_reason = message.stop_reason or meter.stop_reason
    meter.usage = usage_of(message.usage)
    meter.content = [block.model_dump(mode="json", exclude_none=True) for block in message.content]
    diagnostics = getattr(message, "diagnostics", None)
    reason = diagnostics.cache_miss_reason if diagnostics is not None else None
    if reason is not None:
        meter.cache_miss_reason = reason.type
        meter.cache_missed_input_tokens = getattr(reason, "cache_missed_input_tokens", None)


def usage_of(usage: anthropic.types.Usage) -> Usage:
    """Strata's Usage from the SDK's, with cache writes split into 5m and 1h."""
    written = usage.cache_creation_input_tokens or 0
    split = usage.cache_creation
    five_minutes = split.ephemeral_5m_input_tokens if split else written
    one_hour = split.ephemeral_1h_input_tokens if split else 0
    return Usage(
        input_tokens=usage.input_tokens,
        cache_creation_5m_input_tokens=five_minutes,
        cache_creation_1h_input_tokens=one_hour,
        cache_read_input_tokens=usage.cache_read_input_tokens or 0,
        output_tokens=usage.output_tokens,
    )


def _translated(exc: BaseException, attempts: int) -> Exception:
    hinted = retry_after_seconds(exc)
    if isinstance(exc, anthropic.RateLimitError) and hinted is not None:
        return UpstreamRateLimited(
            f"Claude is rate-limited for {hinted:g} s (after {attempts} attempts): {_message(exc)}",
            retry_after_seconds=math.ceil(hinted),
        )
    if is_transient(exc):
        return UpstreamUnavailable(
            f"Claude is unavailable after {attempts} attempts: {_message(exc)}"
        )
    return UpstreamRejected(f"Claude rejected the request: {_message(exc)}")


def _message(exc: BaseException) -> str:
    if isinstance(exc, anthropic.APIStatusError):
        return f"{exc.status_code} {exc.type or ''} {exc.api_message or ''}".strip()
    return str(exc) or type(exc).__name__


def _params(request: ClaudeRequest) -> dict[str, Any]:
    """A request as the body of a non-streaming Messages call, the way _open sends it."""
    return {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "diagnostics": {"previous_message_id": request.previous_message_id},
        **request.prompt,
    }


def _refused_for_load(exc: BaseException) -> bool:
    return isinstance(exc, anthropic.APIStatusError) and exc.status_code in (429, 529)


def _batch_state(batch: MessageBatch) -> BatchState:
    counts = batch.request_counts
    return BatchState(
        batch.id,
        batch.processing_status,
        {
            "processing": counts.processing,
            "succeeded": counts.succeeded,
            "errored": counts.errored,
            "canceled": counts.canceled,
            "expired": counts.expired,
        },
    )


def _batch_line(line: MessageBatchIndividualResponse) -> BatchLine:
    result = line.result
    if result.type == "succeeded":
        message = result.message
        meter = CallMeter()
        _read_snapshot(message, meter)
        events: list[ClaudeEvent] = []
        for block in message.content:
            if block.type != "text":
                continue
            events.append(TextDelta(block.text))
            for citation in block.citations or ():
                if citation.type == "search_result_location":
                    events.append(
                        CitationDelta(
                            citation.search_result_index,
                            citation.cited_text,
                            citation.source,
                            citation.title,
                        )
                    )
        return BatchLine(
            line.custom_id,
            "succeeded",
            tuple(events),
            meter.usage,
            meter.message_id,
            meter.stop_reason,
            meter.cache_miss_reason,
            meter.cache_missed_input_tokens,
        )
    if result.type == "errored":
        error = result.error.error
        return BatchLine(line.custom_id, "errored", error=f"{error.type}: {error.message}")
    return BatchLine(line.custom_id, result.type)


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
