"""Lines to the terminal as the full command line prints them (click's echo), without click.

Each write is flushed, so an answer shows as it streams; dim text is dim on a terminal only.
"""

from __future__ import annotations

import sys


def echo(text: str = "", *, err: bool = False, nl: bool = True, dim: bool = False) -> None:
    """Print text (and a newline, unless nl is False) to stdout, or to stderr with err."""
    stream = sys.stderr if err else sys.stdout
    if dim and stream.isatty():
        text = f"\x1b[2m{text}\x1b[0m"
    stream.write(f"{text}\n" if nl else text)
    stream.flush()
