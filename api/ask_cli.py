"""`strata ask`'s answering options (model, format, thinking) and its dry run on a terminal."""

from __future__ import annotations

from decimal import Decimal

import typer

from api.wiring import open_services
from rag.answering import AskOptions
from rag.dry_run import DryRunEstimate
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
    for line in _lines(estimate):
        typer.echo(line)
    return 0


def _lines(estimate: DryRunEstimate) -> list[str]:
    lines = [
        f"Dry run on {estimate.model}: {estimate.input_tokens} input tokens, "
        f"at most {estimate.max_output_tokens} output tokens; nothing was generated.",
    ]
    for layer in estimate.layers:
        state = "read from cache" if layer.cached else "written" if layer.marked else "uncached"
        lines.append(f"  {layer.layer.value:<13} {layer.tokens:>7} tokens  {state}")
    if estimate.answer_cached:
        lines.append("An identical answer is stored: asking now costs nothing.")
    lines.append(
        f"Input: {_dollars(estimate.input_cost_usd)} predicted, "
        f"{_dollars(estimate.input_cost_without_cache_usd)} without caching"
    )
    lines.append(
        f"With the most output: {_dollars(estimate.cost_usd)} predicted, "
        f"{_dollars(estimate.cost_without_cache_usd)} without caching"
    )
    lines.append(f"Assumption: {estimate.assumption}")
    return lines


def _dollars(value: Decimal | None) -> str:
    return "unpriced" if value is None else f"${value:.6f}"
