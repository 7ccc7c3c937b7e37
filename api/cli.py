"""The `strata` command.

A client command sent to a server (`strata ask QUESTION --url URL`, or with STRATA_URL set) runs
on the standard library alone (api/client/), so that a question from a terminal starts in
milliseconds; every other command, and help and errors, is the typer command line of
api/commands.py.
"""

from __future__ import annotations

import os
import sys

from api.client.commands import run


def main() -> None:
    """Entry point of the `strata` console script."""
    try:
        code = run(sys.argv[1:], os.environ)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (`| head`): as the typer command line does, exit 1 in silence,
        # with nothing left for Python to flush into the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    if code is not None:
        sys.exit(code)
    from api.commands import app

    app()
