"""Bulk questions at half price: submit a batch, watch its status, read its results."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

from fastapi import APIRouter

from api.deps import ServicesDep, UserCaller
from api.limits import BudgetedCaller, check_request_limits
from api.schemas import (
    BatchCounts,
    BatchOut,
    BatchQuestionRequest,
    BatchRequest,
    BatchResultOut,
    BatchResults,
    CitationOut,
    SourceOut,
    UsageOut,
)
from rag.batches import BatchQuestion, QuestionResult
from rag.storage.batches import StoredBatch

router = APIRouter(prefix="/v1/batches", tags=["batches"])


@router.post("", summary="Answer many questions through the Message Batches API", status_code=202)
async def submit(body: BatchRequest, caller: BudgetedCaller, services: ServicesDep) -> BatchOut:
    questions = [_question(item, body) for item in body.questions]
    for question in questions:
        check_request_limits(services.settings, question=question.question, top_k=question.top_k)
    return batch_out(await services.batches.submit(questions, caller.owner))


@router.get("/{batch_id}", summary="A batch's status and request counts")
async def status(batch_id: str, caller: UserCaller, services: ServicesDep) -> BatchOut:
    return batch_out(await services.batches.status(batch_id, caller.owner))


@router.post("/{batch_id}/cancel", summary="Stop a batch; unanswered questions end canceled")
async def cancel(batch_id: str, caller: UserCaller, services: ServicesDep) -> BatchOut:
    return batch_out(await services.batches.cancel(batch_id, caller.owner))


@router.get("/{batch_id}/results", summary="Each question's answer, once the batch ended")
async def results(batch_id: str, caller: UserCaller, services: ServicesDep) -> BatchResults:
    batch, answers = await services.batches.results(batch_id, caller.owner)
    return BatchResults(batch=batch_out(batch), results=[result_out(a) for a in answers])


def _question(item: BatchQuestionRequest, body: BatchRequest) -> BatchQuestion:
    return BatchQuestion(item.question, item.model or body.model, item.top_k or body.top_k)


def batch_out(batch: StoredBatch) -> BatchOut:
    """A batch as the API and the CLI show it."""
    ended = batch.status == "ended"
    return BatchOut(
        id=batch.batch_id,
        status=batch.status,
        created_at=batch.created_at,
        ended_at=batch.ended_at,
        questions=batch.question_count,
        request_counts=BatchCounts(**batch.counts),
        usage_recorded=batch.recorded,
        results_url=f"/v1/batches/{batch.batch_id}/results" if ended else None,
    )


def result_out(result: QuestionResult) -> BatchResultOut:
    """One question's result as the API and the CLI show it."""
    question, cost = result.question, result.cost
    usage = None
    if cost is not None:
        usage = UsageOut(
            input_tokens=question.usage.input_tokens,
            cache_creation_input_tokens=question.usage.cache_creation_input_tokens,
            cache_read_input_tokens=question.usage.cache_read_input_tokens,
            output_tokens=question.usage.output_tokens,
            cost_usd=_money(cost.cost_usd),
            cost_without_cache_usd=_money(cost.cost_without_cache_usd),
            saved_usd=_money(cost.saved_usd),
            layer_hit=result.layer_hit.value,
        )
    return BatchResultOut(
        index=question.position,
        question=question.question,
        model=question.model,
        status=question.status,
        answer=question.answer,
        sources=[SourceOut(**asdict(s)) for s in result.sources],
        citations=[CitationOut(**asdict(c)) for c in question.citations],
        usage=usage,
        error=question.error,
    )


def _money(value: Decimal | None) -> float | None:
    return None if value is None else round(float(value), 8)
