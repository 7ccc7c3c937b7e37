"""Bulk questions through the Message Batches API: half price, cache reads stacked on top.

submit() retrieves each question's chunks and builds the same layered prompt as an ask; the
batch knows its own reuse, so a documents block shared by several of its questions is marked
for caching (the first writes it, the others read it, every price halved). A poller collects
ended batches into durable storage (rag/storage/batches.py) and writes one ledger row per answered
or errored question exactly once, also across a restart: rows already in the ledger (found
by request id, `<upstream batch id>/<custom id>`) are never written again. Canceled and
expired questions made no call and get no row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from rag.batch_records import answered, call_record, question_record
from rag.cache_planner import CacheMark, CachePlanner
from rag.errors import (
    InvalidInput,
    LedgerUnavailable,
    LimitExceeded,
    NotFound,
    OverLimit,
    StillProcessing,
    UpstreamError,
)
from rag.ledger import LedgerRow
from rag.ledger.rows import layer_hit_of
from rag.llm import Claude, ClaudeRequest
from rag.models import model_info
from rag.owners import Owner
from rag.pricing import Cost, PriceTable
from rag.prompt import LayeredPrompt, build_prompt, documents_key
from rag.retrieval import Retriever
from rag.storage.batches import BatchStore, StoredBatch, StoredQuestion
from rag.tracing import NO_TRACING, TraceSpan, Tracing, call_attributes
from rag.types import CacheLayer, CallRecord, Chunk, Feature, Source

log = logging.getLogger("strata.batches")

_LEDGER_PAGE = 500
# Batches take minutes to hours; a client told to come back sooner would only be refused again.
_IN_FLIGHT_RETRY_SECONDS = 60
STOP_WAIT_SECONDS = 10.0


class _Ledger(Protocol):
    def record(self, record: CallRecord) -> None: ...

    def flush(self, timeout_seconds: float = ...) -> None: ...

    def requests(
        self,
        *,
        limit: int = ...,
        offset: int = ...,
        since: datetime | None = ...,
        feature: str | None = ...,
    ) -> tuple[list[LedgerRow], int]: ...


@dataclass(frozen=True, slots=True)
class BatchQuestion:
    """One question of a batch, with its own options; None means the batch's default."""

    question: str
    model: str | None = None
    top_k: int | None = None


@dataclass(frozen=True, slots=True)
class QuestionResult:
    """What one question came to: an answer with sources and citations, or why not."""

    question: StoredQuestion
    sources: tuple[Source, ...]
    cost: Cost | None
    layer_hit: CacheLayer


@dataclass
class Batches:
    """Submits batches, answers their status, and collects their results into the ledger."""

    retriever: Retriever
    claude: Claude
    store: BatchStore
    ledger: _Ledger
    prices: PriceTable
    planner: CachePlanner
    default_model: str = "claude-sonnet-5-5"
    default_top_k: int = 8
    max_answer_tokens: int = 1024
    max_questions: int = 1000
    # Questions one key may have in batches that have not ended.
    max_in_flight_per_key: int = 2000
    tracing: Tracing = NO_TRACING

    async def submit(self, questions: Sequence[BatchQuestion], owner: Owner) -> StoredBatch:
        """Retrieve, build each prompt and submit them all as one Message Batch for owner."""
        if not questions:
            raise InvalidInput("a batch needs at least one question")
        if len(questions) > self.max_questions:
            raise OverLimit(f"a batch holds at most {self.max_questions} questions")
        in_flight = await asyncio.to_thread(self.store.questions_in_flight, owner.key_id)
        if in_flight + len(questions) > self.max_in_flight_per_key:
            raise LimitExceeded(
                f"this key has {in_flight} questions in batches still running; at most "
                f"{self.max_in_flight_per_key} may be, so {len(questions)} more must wait for "
                "one to end",
                retry_after_seconds=_IN_FLIGHT_RETRY_SECONDS,
            )
        models = [model_info(q.model or self.default_model).model_id for q in questions]
        attributes = {"strata.questions": len(questions)}
        with self.tracing.span("strata.batch.submit", None, attributes) as trace:
            return await self._submit(questions, models, owner, trace)

    async def _submit(
        self,
        questions: Sequence[BatchQuestion],
        models: list[str],
        owner: Owner,
        trace: TraceSpan,
    ) -> StoredBatch:
        retrieved = [
            await self.retriever.retrieve(q.question, q.top_k or self.default_top_k, trace)
            for q in questions
        ]
        chunk_sets = [[r.chunk for r in found] for found in retrieved]
        prompts = self._prompts([q.question for q in questions], models, chunk_sets)
        stored = [
            StoredQuestion(
                position=i,
                custom_id=f"q{i}",
                question=q.question,
                model=model,
                chunks=prompt.chunks,
                layer_prefix_tokens=dict(prompt.layer_prefix_tokens),
                prompt_tokens=prompt.prompt_tokens,
            )
            for i, (q, model, prompt) in enumerate(zip(questions, models, prompts, strict=True))
        ]
        requests = [
            (s.custom_id, ClaudeRequest(s.model, self._max_tokens(s.model), p.request_params()))
            for s, p in zip(stored, prompts, strict=True)
        ]
        with self.tracing.span("claude.batches.create", trace, {"strata.batch": True}) as span:
            state = await self.claude.create_batch(requests)
            span.set({"strata.upstream_batch_id": state.batch_id})
        batch = StoredBatch(
            batch_id="batch_" + uuid.uuid4().hex,
            upstream_id=state.batch_id,
            status=state.processing_status,
            counts=state.counts,
            created_at=datetime.now(UTC),
            ended_at=None,
            recorded=False,
            question_count=len(stored),
            owner_key=owner.key_id,
        )
        await asyncio.to_thread(self.store.insert, batch, stored)
        return batch

    async def status(self, batch_id: str, owner: Owner) -> StoredBatch:
        """The batch as last seen; NotFound if there is none by that id owner may see."""
        batch = await asyncio.to_thread(self.store.get, batch_id)
        if not owner.may_see(batch.owner_key):
            raise NotFound(f"no batch {batch_id!r}")
        return batch

    async def results(
        self, batch_id: str, owner: Owner
    ) -> tuple[StoredBatch, list[QuestionResult]]:
        """Each question's outcome, in the order asked; StillProcessing until the batch ended."""
        batch = await self.status(batch_id, owner)
        if batch.status != "ended":
            raise StillProcessing(f"batch {batch_id} is still {batch.status}; results come later")
        questions = await asyncio.to_thread(self.store.questions, batch_id)
        return batch, [self._result(q) for q in questions]

    async def cancel(self, batch_id: str, owner: Owner) -> StoredBatch:
        """Ask the API to stop the batch; questions not yet answered end `canceled`."""
        batch = await self.status(batch_id, owner)
        if batch.status == "ended":
            return batch
        state = await self.claude.cancel_batch(batch.upstream_id)
        # An ended batch is marked ended only with its results, which the poller collects.
        if not state.ended:
            await asyncio.to_thread(
                self.store.update_status, batch_id, state.processing_status, state.counts
            )
        return await asyncio.to_thread(self.store.get, batch_id)

    async def collect(self) -> None:
        """One pass over unrecorded batches: store the results of ended ones, then record.

        A batch that cannot be collected now is logged and left for the next pass; it does
        not hold up the others.
        """
        for batch in await asyncio.to_thread(self.store.unrecorded):
            try:
                await self._collect(batch)
            except (UpstreamError, LedgerUnavailable) as exc:
                log.warning("batch %s not collected yet, will retry: %s", batch.batch_id, exc)

    async def _collect(self, batch: StoredBatch) -> None:
        if batch.status != "ended":
            state = await self.claude.retrieve_batch(batch.upstream_id)
            if not state.ended:
                await asyncio.to_thread(
                    self.store.update_status,
                    batch.batch_id,
                    state.processing_status,
                    state.counts,
                )
                return
            lines = await self.claude.batch_results(batch.upstream_id)
            questions = await asyncio.to_thread(self.store.questions, batch.batch_id)
            await asyncio.to_thread(
                self.store.save_results,
                batch.batch_id,
                state.counts,
                datetime.now(UTC),
                answered(questions, lines),
            )
        attributes = {"strata.batch_id": batch.batch_id}
        with self.tracing.span("strata.batch.collect", None, attributes) as trace:
            await asyncio.to_thread(self._record, batch.batch_id, trace)

    @asynccontextmanager
    async def polling(self, interval_seconds: float) -> AsyncIterator[None]:
        """Collect in the background every interval_seconds until the block ends.

        On the way out a pass under way may finish (its ledger writes run in a thread that a
        cancellation would not stop, while the store and ledger close); one that takes longer
        than STOP_WAIT_SECONDS, waiting on the API, is cancelled and redone next start.
        """
        stop = asyncio.Event()
        task = asyncio.create_task(self._poll(interval_seconds, stop), name="strata-batch-poller")
        task.add_done_callback(_report_stopped)
        try:
            yield
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, STOP_WAIT_SECONDS)
            except TimeoutError:
                log.warning("stopped the batch poller mid-pass; the next start resumes it")

    async def _poll(self, interval_seconds: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.collect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_seconds)

    def _record(self, batch_id: str, trace: TraceSpan) -> None:
        """Write the batch's ledger rows, skipping any a process before this one wrote."""
        batch = self.store.get(batch_id)
        questions = self.store.questions(batch_id)
        with self.store.recording(batch_id) as pending:
            if not pending:
                return
            written = self._recorded_request_ids(batch.created_at)
            for question in questions:
                record = call_record(batch, question)
                if record is not None and record.request_id not in written:
                    self.ledger.record(record)
                    call = self.tracing.start("claude.messages", trace)
                    call.end(call_attributes(record), record.error)
            self.ledger.flush()

    def _recorded_request_ids(self, since: datetime) -> set[str]:
        found: set[str] = set()
        offset, total = 0, 1
        while offset < total:
            rows, total = self.ledger.requests(
                limit=_LEDGER_PAGE, offset=offset, since=since, feature=str(Feature.BATCH)
            )
            if not rows:
                break
            found.update(row.request_id for row in rows if row.request_id)
            offset += len(rows)
        return found

    def _prompts(
        self, questions: list[str], models: list[str], chunk_sets: list[list[Chunk]]
    ) -> list[LayeredPrompt]:
        """Each question's prompt, each layer marked when enough others in the batch share it.

        In a batch the reuse is known, not estimated: of n questions on the same model with
        the same chunk set, the first writes the block and the other n - 1 can read it.
        """
        shared = Counter(
            (model, documents_key(chunks)) for model, chunks in zip(models, chunk_sets, strict=True)
        )
        by_model = Counter(models)
        prompts = []
        for question, model, chunks in zip(questions, models, chunk_sets, strict=True):
            draft = build_prompt(chunks, (), question, {}, model=model_info(model))
            copies = {
                CacheLayer.SYSTEM: by_model[model],
                CacheLayer.DOCUMENTS: shared[(model, documents_key(chunks))],
            }
            marks: dict[CacheLayer, CacheMark] = {}
            for layer, prefix_tokens in draft.layer_prefix_tokens.items():
                mark = self.planner.plan_batch(model, prefix_tokens, copies.get(layer, 1))
                if mark is not None:
                    marks[layer] = mark
            prompts.append(build_prompt(chunks, (), question, marks, model=model_info(model)))
        return prompts

    def _max_tokens(self, model: str) -> int:
        return min(self.max_answer_tokens, model_info(model).max_output_tokens)

    def _result(self, question: StoredQuestion) -> QuestionResult:
        sources = tuple(
            Source(c.chunk_id, c.document_id, c.source, c.title) for c in question.chunks
        )
        answered = question.status == "succeeded"
        cost = self.prices.cost_of(question.model, question.usage, batch=True) if answered else None
        record = question_record(question, datetime.now(UTC), None)
        return QuestionResult(question, sources, cost, layer_hit_of(record))


def _report_stopped(task: asyncio.Task[None]) -> None:
    """Say at once when the poller died: no batch is collected until the next start."""
    if not task.cancelled() and task.exception() is not None:
        log.error("the batch poller stopped", exc_info=task.exception())
