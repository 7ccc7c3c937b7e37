"""The `strata` command line, all of it: every command, its options, help and errors.

A well-formed command sent to a server does not come here: api/cli.py runs it on the standard
library alone (api/client/), for a start-up of milliseconds rather than typer's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, NoReturn

import typer

from api.client.target import Server, find_server

if TYPE_CHECKING:
    from rag.settings import Settings

# A command sent to a server imports only what a client needs: the settings model, the
# engines and asyncio are imported inside the commands, on the local path.

# Sends the command to a running server instead of running it here.
ServerUrl = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Send this to the Strata server at URL (default STRATA_URL; its key: STRATA_API_KEY).",
        show_default=False,
    ),
]

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Strata: answers over your documents."
)


def _settings(**overrides: object) -> Settings:
    from pydantic import ValidationError

    from rag.settings import Settings

    try:
        return Settings.load(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            typer.echo(
                f"strata: invalid setting {where}: {message}" if where else f"strata: {message}",
                err=True,
            )
        raise typer.Exit(2) from None


def _not_built(command: str) -> NoReturn:
    typer.echo(f"strata {command}: not available in this build yet.", err=True)
    raise typer.Exit(3)


def _server_or_settings(url: str | None) -> Server | Settings:
    """The server to send the command to (--url or STRATA_URL), or else the local settings."""
    server = find_server(url, os.environ)
    if server is not None:
        return server
    settings = _settings(url=url) if url is not None else _settings()
    if settings.url is None:
        return settings
    key = settings.api_key.get_secret_value() if settings.api_key else None
    return Server(settings.url, key)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the HTTP service (and the offline emulator when no ANTHROPIC_API_KEY is set)."""
    import uvicorn

    from api.app import create_app
    from api.security import configure_logging

    settings = _settings(host=host, port=port)
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level
    )


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders.")], url: ServerUrl = None
) -> None:
    """Ingest files or folders (recursively) into the store, or upload them to a server."""
    target = _server_or_settings(url)
    if isinstance(target, Server):
        from api.client import commands

        raise typer.Exit(commands.ingest(target, paths))
    from api.ingest_cli import run_ingest

    raise typer.Exit(run_ingest(target, paths))


@app.command()
def ask(
    question: str,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Print the whole answer at once.")
    ] = False,
    conversation: Annotated[str | None, typer.Option(help="Continue this conversation.")] = None,
    model: Annotated[str | None, typer.Option(help="A model of the model table.")] = None,
    answer_format: Annotated[
        Literal["text", "json"],
        typer.Option("--format", help="`json`: a validated object (answer, sources, confidence)."),
    ] = "text",
    thinking: Annotated[
        Literal["low", "medium", "high", "max"] | None,
        typer.Option(help="Adaptive thinking at this effort (models that take it)."),
    ] = None,
    thinking_budget: Annotated[
        int | None,
        typer.Option(min=1024, help="Thinking budget in tokens (models that take a budget)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count tokens and predict the cost; no answer.")
    ] = False,
    agentic: Annotated[
        bool, typer.Option("--agentic", help="Let Claude search the documents itself, in a loop.")
    ] = False,
    max_iterations: Annotated[
        int | None, typer.Option(min=1, help="With --agentic: most Claude calls in the loop.")
    ] = None,
    url: ServerUrl = None,
) -> None:
    """Ask a question; the answer streams, then its sources and one usage line."""
    if dry_run and agentic:
        typer.echo("strata: --dry-run cannot price an --agentic ask; use one of them", err=True)
        raise typer.Exit(2)
    target = _server_or_settings(url)
    if isinstance(target, Server):
        from api.client import commands

        _check_thinking(thinking, thinking_budget)
        raise typer.Exit(
            commands.ask(
                target,
                question,
                no_stream,
                conversation,
                model,
                answer_format,
                thinking,
                thinking_budget,
                dry_run,
                agentic,
                max_iterations,
            )
        )
    import asyncio

    from api.ask_cli import ask_options, print_dry_run
    from api.terminal import print_answer
    from rag.errors import StrataError

    try:
        options = ask_options(
            not no_stream, conversation, model, answer_format, thinking, thinking_budget
        )
    except StrataError as exc:
        typer.echo(f"strata: {exc}", err=True)
        raise typer.Exit(2) from None
    if dry_run:
        raise typer.Exit(asyncio.run(print_dry_run(target, question, options)))
    loop = max_iterations if agentic else None
    raise typer.Exit(asyncio.run(print_answer(target, question, options, agentic, loop)))


def _check_thinking(effort: str | None, budget: int | None) -> None:
    """Exit 2 unless at most one of effort and budget is given (the local path checks its own)."""
    if effort is None or budget is None:
        return
    from rag.errors import StrataError
    from rag.thinking import ThinkingRequest

    try:
        ThinkingRequest(effort, budget)  # type: ignore[arg-type]
    except StrataError as exc:
        typer.echo(f"strata: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def search(
    query: str,
    top_k: Annotated[int, typer.Option(help="How many chunks.")] = 8,
    url: ServerUrl = None,
) -> None:
    """Show the chunks retrieved for a query, without calling Claude."""
    target = _server_or_settings(url)
    if isinstance(target, Server):
        from api.client import commands

        raise typer.Exit(commands.search(target, query, top_k))
    import asyncio

    from api.terminal import print_search

    raise typer.Exit(asyncio.run(print_search(target, query, top_k)))


@app.command()
def usage(
    days: Annotated[
        int | None, typer.Option(min=1, help="Only the last DAYS days; default all time.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    url: ServerUrl = None,
) -> None:
    """Show what caching saved: spend, savings, wasted writes, by feature, model and layer."""
    target = _server_or_settings(url)
    if isinstance(target, Server):
        from api.client import commands

        raise typer.Exit(commands.usage(target, days, as_json))
    from rich.console import Console

    from api.usage_cli import run_usage

    raise typer.Exit(run_usage(target, days, as_json, Console()))


@app.command()
def batch(
    file: Annotated[Path, typer.Argument(help="A text file, one question per line.")],
    model: Annotated[str | None, typer.Option(help="Model for every question.")] = None,
    top_k: Annotated[int | None, typer.Option(help="Chunks per question.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the answers and print them.")
    ] = True,
    url: ServerUrl = None,
) -> None:
    """Answer a file of questions through the Message Batches API, at half price."""
    from api.client.batches import BatchFileError, read_questions

    target = _server_or_settings(url)
    if isinstance(target, Server):
        from api.client import commands

        raise typer.Exit(commands.batch(target, file, model, top_k, wait))
    try:
        questions = read_questions(file)
    except BatchFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    import asyncio

    from api.batch_cli import run_batch

    raise typer.Exit(asyncio.run(run_batch(target, questions, model, top_k, wait)))


@app.command()
def emulator(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8900,
    fault_rate: Annotated[
        float, typer.Option(help="Probability that a request fails with a random fault.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the random faults and ids.")] = 0,
    ttft_ms: Annotated[float, typer.Option(help="Delay before a response begins, in ms.")] = 0.0,
    tokens_per_second: Annotated[float, typer.Option(help="Output pacing.")] = 20_000.0,
    time_scale: Annotated[
        float, typer.Option(help="Run the cache clock this many times faster.")
    ] = 1.0,
) -> None:
    """Run the Claude Messages API emulator on its own."""
    import uvicorn

    from api.emulator import EmulatorConfig, create_app

    try:
        config = EmulatorConfig(
            ttft_ms=ttft_ms,
            tokens_per_second=tokens_per_second,
            fault_rate=fault_rate,
            seed=seed,
            time_scale=time_scale,
        )
    except ValueError as exc:
        typer.echo(f"strata emulator: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Claude API emulator on http://{host}:{port} (set ANTHROPIC_BASE_URL to use it)")
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")
