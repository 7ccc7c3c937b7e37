"""From an ended batch's result lines to answered questions and their ledger records.

A question's record carries the request id `<upstream batch id>/<custom id>`, which is how a
later process knows the ledger has it already. Canceled and expired questions made no call
and have no record.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from rag.llm import BatchLine, CitationDelta, TextDelta
from rag.storage.batches import StoredBatch, StoredQuestion
from rag.types import CacheLayer, CallRecord, Chunk, Citation, Feature


def answered(questions: list[StoredQuestion], lines: list[BatchLine]) -> list[StoredQuestion]:
    """The questions with their result lines; a question the results lack counts as expired."""
    by_id = {line.custom_id: line for line in lines}
    answered = []
    for question in questions:
        line = by_id.get(question.custom_id, BatchLine(question.custom_id, "expired"))
        text: list[str] = []
        citations: list[Citation] = []
        for event in line.events:
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, CitationDelta):
                citation = _citation(event, question.chunks)
                if citation not in citations:
                    citations.append(citation)
        answered.append(
            replace(
                question,
                status=line.status,
                answer="".join(text) if line.status == "succeeded" else None,
                citations=tuple(citations),
                usage=line.usage,
                message_id=line.message_id,
                stop_reason=line.stop_reason,
                cache_miss_reason=line.cache_miss_reason,
                cache_missed_input_tokens=line.cache_missed_input_tokens,
                error=line.error,
            )
        )
    return answered


def _citation(event: CitationDelta, chunks: tuple[Chunk, ...]) -> Citation:
    if 0 <= event.search_result_index < len(chunks):
        chunk = chunks[event.search_result_index]
        return Citation(
            event.cited_text, chunk.source, chunk.chunk_id, chunk.document_id, chunk.title
        )
    return Citation(event.cited_text, event.source, title=event.title)


def call_record(batch: StoredBatch, question: StoredQuestion) -> CallRecord | None:
    """The ledger record of one question; None when no call was made (canceled, expired)."""
    if question.status not in ("succeeded", "errored"):
        return None
    record = question_record(question, batch.created_at, batch.ended_at)
    return replace(
        record, request_id=f"{batch.upstream_id}/{question.custom_id}", owner_key=batch.owner_key
    )


def question_record(
    question: StoredQuestion, started_at: datetime, ended_at: datetime | None
) -> CallRecord:
    """The record of question's call, started when the batch was and done when it ended."""
    latency_ms = (ended_at - started_at).total_seconds() * 1000 if ended_at else 0.0
    return CallRecord(
        feature=Feature.BATCH,
        model=question.model,
        usage=question.usage,
        started_at=started_at,
        latency_ms=round(latency_ms, 3),
        layer_prefix_tokens=calibrated_prefixes(question),
        cache_miss_reason=question.cache_miss_reason,
        cache_missed_input_tokens=question.cache_missed_input_tokens,
        batch=True,
        error=question.error,
    )


def calibrated_prefixes(question: StoredQuestion) -> dict[CacheLayer, int]:
    """Each layer's prefix in the API's tokens: the estimates scaled to the reported total.

    Which layer a cache read covered is judged against these, so the estimate's drift from
    the API's tokenizer cannot move a documents-layer read to the system layer.
    """
    reported = question.usage.prompt_tokens
    if reported <= 0 or question.prompt_tokens <= 0:
        return dict(question.layer_prefix_tokens)
    scale = reported / question.prompt_tokens
    return {layer: round(tokens * scale) for layer, tokens in question.layer_prefix_tokens.items()}
