"""The `strata` command.

A client command sent to a server (`strata ask QUESTION --url URL`, or with STRATA_URL set) runs
on the standard library alone (api/client/), so that a question from a terminal starts in
milliseconds; every other command, and help and errors, is the typer command line of
api/commands.py. Deciding which costs no more than reading argv and the environment.
"""

from __future__ import annotations

import os
import sys

from api.client.arguments import Value, read_command
from api.client.target import Server, find_server


def main() -> None:
    """Entry point of the `strata` console script."""
    read = read_command(sys.argv[1:])
    if read is not None:
        name, values = read
        url = values.pop("url")
        server = find_server(url if isinstance(url, str) else None, os.environ)
        if server is not None:
            sys.exit(_run_on_server(server, name, values))
    from api.commands import app

    app()


def _run_on_server(server: Server, name: str, values: dict[str, Value]) -> int:
    from api.client.commands import BY_NAME

    try:
        return BY_NAME[name](server, **values)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): as the typer command line does, exit 1 in silence,
        # with nothing left for Python to flush into the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
