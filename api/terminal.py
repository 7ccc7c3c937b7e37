"""`strata ask` and `strata search` on a terminal: the answer as it streams, sources, usage."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import typer

from api.agent_events import LOOP_EVENTS, loop_line
from api.cli_output import NO_CHUNKS, conversation_line, search_lines, source_line, usage_line
from api.control_chars import for_terminal
from api.routes.ask import usage_out
from api.wiring import open_services
from rag.agent import AgentEvent
from rag.answering import AskOptions, Cited, Delta, Done, Failed, Retrieved, Thinking, Used
from rag.errors import StrataError
from rag.settings import Settings


async def print_answer(
    settings: Settings,
    question: str,
    options: AskOptions,
    agentic: bool = False,
    max_iterations: int | None = None,
) -> int:
    """Answer question, printing as it goes (thinking, tool calls to stderr); the exit code.

    agentic lets Claude search the documents itself, at most max_iterations calls.
    """
    stream = options.stream
    async with open_services(settings) as services:
        used: Used | None = None
        answering: AsyncGenerator[AgentEvent, None] = (
            services.agent.ask(question, options, max_iterations)
            if agentic
            else services.asker.ask(question, options)
        )
        try:
            async with aclosing(answering) as events:
                async for event in events:
                    if isinstance(event, LOOP_EVENTS):
                        typer.secho(for_terminal(loop_line(event)), err=True, dim=True)
                    elif isinstance(event, Thinking):
                        typer.secho(for_terminal(event.text), nl=False, err=True, dim=True)
                    elif isinstance(event, Delta) and stream:
                        typer.echo(for_terminal(event.text), nl=False)
                    elif isinstance(event, Failed):
                        typer.echo(for_terminal(f"\nstrata: {event.error}"), err=True)
                        return 1
                    elif isinstance(event, Done):
                        _print_done(event, stream)
                    elif isinstance(event, Used):
                        used = event
                    elif isinstance(event, Retrieved | Cited):
                        continue
        except StrataError as exc:
            typer.echo(f"strata: {exc}", err=True)
            return 1
        if used is not None:
            typer.echo(usage_line(usage_out(used).model_dump()))
        return 0


async def print_search(settings: Settings, query: str, top_k: int) -> int:
    """Print the chunks retrieved for query, best first; returns the process exit code."""
    async with open_services(settings) as services:
        found = await services.retriever.search(query, top_k)
    if not found:
        typer.echo(NO_CHUNKS)
    for rank, result in enumerate(found, start=1):
        chunk = result.chunk
        for line in search_lines(rank, result.score, chunk.source, chunk.chunk_id, chunk.text):
            typer.echo(line)
    return 0


def _print_done(done: Done, streamed: bool) -> None:
    if not streamed:
        typer.echo(for_terminal(done.text), nl=False)
    typer.echo("\n")
    if done.sources:
        typer.echo("Sources:")
        for source in done.sources:
            typer.echo(source_line(source.title, source.source, source.chunk_id))
    typer.echo(conversation_line(done.conversation_id, done.from_answer_cache))
