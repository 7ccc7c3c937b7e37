"""`strata batch FILE`: submit a file of questions as one batch, then wait for the answers."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import typer

from api.control_chars import for_terminal
from api.wiring import open_services
from rag.batches import BatchQuestion, QuestionResult
from rag.errors import StrataError
from rag.owners import LOCAL_OWNER
from rag.settings import Settings

# Waiting at a terminal: collect every second rather than at STRATA_BATCH_POLL_SECONDS.
WAIT_POLL_SECONDS = 1.0


def read_questions(path: Path) -> list[str]:
    """One question per non-blank line of the file."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


async def run_batch(
    settings: Settings, path: Path, model: str | None, top_k: int | None, wait: bool
) -> int:
    """Submit the questions of path; with wait, print each answer once the batch ended."""
    questions = [BatchQuestion(q, model, top_k) for q in read_questions(path)]
    async with open_services(settings) as services:
        try:
            batch = await services.batches.submit(questions, LOCAL_OWNER)
            count = batch.question_count
            typer.echo(f"Batch {batch.batch_id}: {count} question(s) submitted.")
            if not wait:
                typer.echo(f"Results: GET /v1/batches/{batch.batch_id}/results once it ended.")
                return 0
            while not batch.recorded:
                await asyncio.sleep(WAIT_POLL_SECONDS)
                await services.batches.collect()
                batch = await services.batches.status(batch.batch_id, LOCAL_OWNER)
            _, results = await services.batches.results(batch.batch_id, LOCAL_OWNER)
        except StrataError as exc:
            typer.echo(f"strata: {exc}", err=True)
            return 1
    for result in results:
        _print_result(result)
    counts = ", ".join(f"{n} {state}" for state, n in batch.counts.items() if n)
    typer.echo(f"Batch {batch.batch_id} ended: {counts}.")
    return 0 if batch.counts.get("succeeded") == batch.question_count else 1


def _print_result(result: QuestionResult) -> None:
    question = result.question
    typer.echo(for_terminal(f"[{question.position + 1}] {question.question}  ({question.model})"))
    if question.answer is None:
        reason = f": {question.error}" if question.error else ""
        typer.echo(for_terminal(f"    {question.status}{reason}\n"))
        return
    typer.echo(for_terminal(question.answer.strip()))
    for source in result.sources:
        typer.echo(for_terminal(f"  - {source.title} ({source.source}) [{source.chunk_id}]"))
    u = question.usage
    cost = result.cost
    typer.echo(
        f"Usage: {u.input_tokens} in, {u.cache_creation_input_tokens} cache write, "
        f"{u.cache_read_input_tokens} cache read, {u.output_tokens} out; batch price "
        f"{_dollars(cost.cost_usd if cost else None)}, saved "
        f"{_dollars(cost.saved_usd if cost else None)}\n"
    )


def _dollars(value: Decimal | None) -> str:
    return "unpriced" if value is None else f"${value:.6f}"
