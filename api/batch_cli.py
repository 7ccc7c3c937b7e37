"""`strata batch FILE`: submit a file of questions as one batch, then wait for the answers."""

from __future__ import annotations

import asyncio

import typer

from api.cli_output import batch_lines, batch_result_lines, results_hint
from api.routes.batches import batch_out, result_out
from api.wiring import open_services
from rag.batches import BatchQuestion
from rag.errors import StrataError
from rag.owners import LOCAL_OWNER
from rag.settings import Settings

# Waiting at a terminal: collect every second rather than at STRATA_BATCH_POLL_SECONDS.
WAIT_POLL_SECONDS = 1.0


async def run_batch(
    settings: Settings, questions: list[str], model: str | None, top_k: int | None, wait: bool
) -> int:
    """Submit questions; with wait, print each answer once the batch ended."""
    asked = [BatchQuestion(question, model, top_k) for question in questions]
    async with open_services(settings) as services:
        try:
            batch = await services.batches.submit(asked, LOCAL_OWNER)
            _echo(batch_lines(batch_out(batch).model_dump(), submitted=True))
            if not wait:
                typer.echo(results_hint(batch.batch_id))
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
        _echo(batch_result_lines(result_out(result).model_dump()))
    _echo(batch_lines(batch_out(batch).model_dump(), submitted=False))
    return 0 if batch.counts.get("succeeded") == batch.question_count else 1


def _echo(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)
