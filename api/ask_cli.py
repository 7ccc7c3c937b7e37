"""`strata ask`'s answering options (model, format, thinking) and its dry run on a terminal."""

from __future__ import annotations

import typer

from api.cli_output import dry_run_lines
from api.routes.ask import dry_run_out
from api.wiring import open_services
from rag.answering import AskOptions
from rag.errors import StrataError
from rag.generation import AnswerFormat, AnswerShape
from rag.settings import Settings
from rag.thinking import Effort, ThinkingRequest


def ask_options(
    stream: bool,
    conversation_id: str | None,
    model: str | None,
    answer_format: AnswerFormat,
    effort: Effort | None,
    budget_tokens: int | None,
) -> AskOptions:
    """The options of one ask; InvalidInput for an effort and a budget together."""
    thinking = None
    if effort is not None or budget_tokens is not None:
        thinking = ThinkingRequest(effort, budget_tokens)
    return AskOptions(
        conversation_id=conversation_id,
        model=model,
        stream=stream,
        shape=AnswerShape(answer_format, thinking),
    )


async def print_dry_run(settings: Settings, question: str, options: AskOptions) -> int:
    """Count and price question without answering it; returns the process exit code."""
    async with open_services(settings) as services:
        try:
            estimate = await services.asker.price(question, options)
        except StrataError as exc:
            typer.echo(f"strata: {exc}", err=True)
            return 1
    for line in dry_run_lines(dry_run_out(estimate).model_dump()):
        typer.echo(line)
    return 0
