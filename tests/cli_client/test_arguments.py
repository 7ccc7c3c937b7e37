"""The client commands read without typer take exactly the typer commands' options, and what
they cannot read plainly goes to the typer command line, which says what is wrong."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any

import typer.main

from api.client.arguments import COMMANDS, Command, read_command
from api.client.commands import BY_NAME
from api.commands import app
from api.serving import free_port
from tests.processes import run_strata

_KINDS: dict[Any, str] = {bool: "flag", str: "text", int: "int", Path: "path"}


def _typer_kind(annotation: Any) -> object:
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    if typing.get_origin(annotation) is list:
        return _KINDS[typing.get_args(annotation)[0]]
    return _KINDS[annotation]


def _typer_side(name: str) -> dict[str, object]:
    """What the typer command `name` takes: its arguments and each option's meaning."""
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    arguments: list[tuple[str, object, int]] = []
    options: dict[str, tuple[object, ...]] = {}
    for param in command.params:
        kind = _typer_kind(param.type_descriptor.annotation)
        if param.param_type_name == "argument":
            arguments.append((param.name, kind, param.nargs))
            continue
        # Neither is read without typer: a maximum, an option given many times.
        assert param.max is None, param.name
        assert not param.multiple, param.name
        for flag in param.opts:
            options[flag] = (param.name, kind, param.default, param.min, True)
        for flag in param.secondary_opts:
            options[flag] = (param.name, kind, param.default, None, False)
    return {"arguments": arguments, "options": options}


def _fast_side(command: Command) -> dict[str, object]:
    last = len(command.arguments) - 1
    return {
        "arguments": [
            (name, kind, -1 if command.many and index == last else 1)
            for index, (name, kind) in enumerate(command.arguments.items())
        ],
        "options": {
            flag: (o.dest, o.takes, o.default, o.minimum, o.flag_value)
            for flag, o in command.options.items()
        },
    }


def test_each_client_command_reads_the_options_of_its_typer_command() -> None:
    assert set(COMMANDS) == {"ask", "search", "usage", "batch", "ingest"}
    for name, command in COMMANDS.items():
        assert _fast_side(command) == _typer_side(name), name
        # The function that runs it takes each value read, by name, after the server.
        taken = list(inspect.signature(BY_NAME[name]).parameters)[1:]
        read = [*command.arguments, *(o.dest for o in command.options.values())]
        assert sorted(taken) == sorted(set(read) - {"url"}), name


def test_a_plain_command_is_read_with_the_defaults_of_its_options() -> None:
    assert read_command(["search", "--top-k=3", "bees", "--url", "http://h:1"]) == (
        "search",
        {"query": "bees", "top_k": 3, "url": "http://h:1"},
    )
    assert read_command(["ingest", "a", "--", "--b"]) == (
        "ingest",
        {"paths": [Path("a"), Path("--b")], "url": None},
    )
    assert read_command(["batch", "q.txt", "--no-wait"]) == (
        "batch",
        {"file": Path("q.txt"), "model": None, "top_k": None, "wait": False, "url": None},
    )


def test_what_is_not_plainly_a_client_command_is_left_to_typer() -> None:
    for argv in (
        [],
        ["serve"],
        ["ask", "--help"],
        ["ask", "-h"],
        ["ask"],
        ["ask", "one", "two"],
        ["ask", "q", "--bogus"],
        ["ask", "q", "--format", "xml"],
        ["ask", "q", "--thinking-budget", "1000"],
        ["ask", "q", "--thinking-budget", " 2048"],
        ["ask", "q", "--dry-run", "--agentic"],
        ["ask", "q", "--thinking", "low", "--thinking-budget", "2048"],
        ["ask", "q", "--no-stream=yes"],
        ["ask", "q", "--model"],
        ["search", "q", "--top-k", "-1"],
        ["usage", "--days", "0"],
        ["ingest"],
    ):
        assert read_command(argv) is None, argv


def test_an_option_typer_refuses_is_its_error_and_exit_code_not_a_request(tmp_path: Path) -> None:
    # Nothing listens at the URL: a request would fail with exit 1, typer's refusal is exit 2.
    url = f"http://127.0.0.1:{free_port()}"
    low = run_strata("ask", "q", "--thinking-budget", "10", "--url", url, home=tmp_path)
    both = run_strata("ask", "q", "--dry-run", "--agentic", "--url", url, home=tmp_path)
    helped = run_strata("search", "--help", home=tmp_path, settings={"STRATA_URL": url})

    assert low.returncode == 2
    assert "--thinking-budget" in low.stderr
    assert "cannot reach" not in low.stderr
    assert both.returncode == 2
    assert both.stderr.strip() == "strata: --dry-run cannot price an --agentic ask; use one of them"
    assert helped.returncode == 0, helped.stderr
    assert "--top-k" in helped.stdout
