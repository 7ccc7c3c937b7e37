"""The client commands' arguments, read without typer (whose import is most of a start-up).

Only what is plainly well formed is read here: `--help`, an unknown option, a missing or extra
argument, a number that is not plain digits or is below its minimum, a choice not among its
choices, or options the command refuses together all give None, and the full command line
(api/commands.py) reads the command instead and says what is wrong, as it always has. A test
holds this table to the typer commands' own options, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

Value = str | int | bool | Path | list[Path] | None


class Option(NamedTuple):
    """What one option sets (dest) and takes: a flag, text, an int, or one of some choices."""

    dest: str
    takes: Literal["flag", "text", "int"] | tuple[str, ...]
    default: Value = None
    minimum: int | None = None
    # A flag's value when given: False for the `--no-` side of a `--wait/--no-wait` pair.
    flag_value: bool = True


class Command(NamedTuple):
    """A command's arguments in order, text or a path, and its options.

    With many, the last argument takes one or more words.
    """

    arguments: Mapping[str, Literal["text", "path"]]
    options: Mapping[str, Option]
    many: bool = False
    # Options given together that the full command line refuses, with its own message.
    refused_together: tuple[tuple[str, str], ...] = ()


_URL = Option("url", "text")

COMMANDS: Mapping[str, Command] = {
    "ask": Command(
        {"question": "text"},
        {
            "--no-stream": Option("no_stream", "flag", False),
            "--conversation": Option("conversation", "text"),
            "--model": Option("model", "text"),
            "--format": Option("answer_format", ("text", "json"), "text"),
            "--thinking": Option("thinking", ("low", "medium", "high", "max")),
            "--thinking-budget": Option("thinking_budget", "int", minimum=1024),
            "--dry-run": Option("dry_run", "flag", False),
            "--agentic": Option("agentic", "flag", False),
            "--max-iterations": Option("max_iterations", "int", minimum=1),
            "--url": _URL,
        },
        refused_together=(("dry_run", "agentic"), ("thinking", "thinking_budget")),
    ),
    "search": Command({"query": "text"}, {"--top-k": Option("top_k", "int", 8), "--url": _URL}),
    "usage": Command(
        {},
        {
            "--days": Option("days", "int", minimum=1),
            "--json": Option("as_json", "flag", False),
            "--url": _URL,
        },
    ),
    "batch": Command(
        {"file": "path"},
        {
            "--model": Option("model", "text"),
            "--top-k": Option("top_k", "int"),
            "--wait": Option("wait", "flag", True),
            "--no-wait": Option("wait", "flag", True, flag_value=False),
            "--url": _URL,
        },
    ),
    "ingest": Command({"paths": "path"}, {"--url": _URL}, many=True),
}


def read_command(argv: Sequence[str]) -> tuple[str, dict[str, Value]] | None:
    """The client command of argv (without the program) and its values; None: not plainly."""
    if not argv or argv[0] not in COMMANDS:
        return None
    command = COMMANDS[argv[0]]
    values: dict[str, Value] = {o.dest: o.default for o in command.options.values()}
    given: set[str] = set()
    positional: list[str] = []
    words = iter(argv[1:])
    for word in words:
        if word == "--":
            positional.extend(words)
        elif word.startswith("--"):
            flag, equals, inline = word.partition("=")
            option = command.options.get(flag)
            if option is None:
                return None
            if option.takes == "flag":
                if equals:
                    return None
                values[option.dest] = option.flag_value
            else:
                raw = inline if equals else next(words, None)
                value = None if raw is None else _value(option, raw)
                if value is None:
                    return None
                values[option.dest] = value
            given.add(option.dest)
        elif word.startswith("-") and word != "-":
            return None
        else:
            positional.append(word)
    if any(a in given and b in given for a, b in command.refused_together):
        return None
    arguments = _arguments(command, positional)
    if arguments is None:
        return None
    return argv[0], values | arguments


def _arguments(command: Command, positional: list[str]) -> dict[str, Value] | None:
    """Each argument's value; None if there are too few or too many."""
    kinds = list(command.arguments.items())
    if len(positional) < len(kinds) or (len(positional) > len(kinds) and not command.many):
        return None
    values: dict[str, Value] = {}
    for index, (name, kind) in enumerate(kinds):
        if command.many and index == len(kinds) - 1:
            values[name] = [Path(word) for word in positional[index:]]
        else:
            values[name] = Path(positional[index]) if kind == "path" else positional[index]
    return values


def _value(option: Option, raw: str) -> str | int | None:
    if option.takes == "text":
        return raw
    if option.takes == "int":
        if not (raw.isascii() and raw.isdigit()):
            return None
        number = int(raw)
        return None if option.minimum is not None and number < option.minimum else number
    return raw if raw in option.takes else None
