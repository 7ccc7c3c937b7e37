"""The client commands: each sends one command to a server, prints its output, gives its exit code.

Both command lines run them: api/cli.py on a command read without typer (BY_NAME, with the
values of api/client/arguments.py), and the typer commands (api/commands.py) when the settings
rather than `--url` or the environment named the server. A failure to talk to the server is
one line on stderr and exit code 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from api.client.answers import ask_body, print_answer, print_dry_run, print_search
from api.client.batches import BatchFileError, read_questions, run_batch
from api.client.http import ServerClient, ServerError
from api.client.printing import echo
from api.client.target import Server
from api.control_chars import for_terminal


def on_server(server: Server, command: Callable[[ServerClient], int]) -> int:
    """Run command against the server; its exit code, or 1 with one line if the server failed."""
    try:
        with ServerClient(server.url, server.api_key) as client:
            return command(client)
    except ServerError as exc:
        echo(for_terminal(f"strata: {exc}"), err=True)
        return 1


def ask(
    server: Server,
    question: str,
    no_stream: bool,
    conversation: str | None,
    model: str | None,
    answer_format: str,
    thinking: str | None,
    thinking_budget: int | None,
    dry_run: bool,
    agentic: bool,
    max_iterations: int | None,
) -> int:
    """`strata ask` (at most one of thinking and thinking_budget, not dry_run with agentic)."""
    body = ask_body(
        question, not no_stream, conversation, model, answer_format, thinking, thinking_budget
    )
    if dry_run:
        return on_server(server, lambda client: print_dry_run(client, body))
    if agentic:
        body["agentic"] = True
        if max_iterations is not None:
            body["max_iterations"] = max_iterations
    return on_server(server, lambda client: print_answer(client, body))


def search(server: Server, query: str, top_k: int) -> int:
    """`strata search`."""
    return on_server(server, lambda client: print_search(client, query, top_k))


def usage(server: Server, days: int | None, as_json: bool) -> int:
    """`strata usage`."""
    from rich.console import Console

    from api.client.usage import run_usage

    return on_server(server, lambda client: run_usage(client, days, as_json, Console()))


def batch(server: Server, file: Path, model: str | None, top_k: int | None, wait: bool) -> int:
    """`strata batch`."""
    try:
        questions = read_questions(file)
    except BatchFileError as exc:
        echo(str(exc), err=True)
        return 1
    return on_server(server, lambda client: run_batch(client, questions, model, top_k, wait))


def ingest(server: Server, paths: Sequence[Path]) -> int:
    """`strata ingest`."""
    from rich.console import Console

    from api.client.uploads import run_ingest

    out, err = Console(), Console(stderr=True)
    return on_server(server, lambda client: run_ingest(client, paths, out, err))


BY_NAME: Mapping[str, Callable[..., int]] = {
    "ask": ask,
    "search": search,
    "usage": usage,
    "batch": batch,
    "ingest": ingest,
}
