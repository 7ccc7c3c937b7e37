"""Which server a client command talks to, and with which key, without building the settings.

The settings model (pydantic-settings) costs a command sent to a server a large part of its
start-up, for two values: `STRATA_URL` and `STRATA_API_KEY`. They are read here the way
`Settings.load` reads them: `--url` first, then the environment (names in any case), then
`STRATA_ENV_FILE` or `$STRATA_HOME/.env`. Anything less plain (a URL that is not one, an env
file that is not there) is left to `Settings.load`, which says what is wrong; a test holds the
two readers to the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple


class Server(NamedTuple):
    """A running Strata server and the key to send it (None: send none)."""

    url: str
    api_key: str | None

    def __repr__(self) -> str:
        # Never the key: a traceback's locals must not show it.
        return f"Server(url={self.url!r})"


def find_server(url: str | None, environ: Mapping[str, str]) -> Server | None:
    """The server given by url or the settings; None when the settings must decide.

    None covers both "no server: run locally" and "not plain enough to read here".
    """
    found = {name.lower(): value for name, value in environ.items()}
    from_file = _env_file_values(found)
    if from_file is None:
        return None
    found = from_file | found
    url = url if url is not None else found.get("strata_url")
    if url is None or not url.startswith(("http://", "https://")):
        return None
    return Server(url, found.get("strata_api_key") or None)


def _env_file_values(environ: Mapping[str, str]) -> dict[str, str] | None:
    """The variables of the .env file Settings.load reads: {} if none, None if it refuses it."""
    named = environ.get("strata_env_file")
    if named is not None:
        path = Path(named)
        if not path.is_file():
            return None
    elif "strata_home" in environ and (Path(environ["strata_home"]) / ".env").is_file():
        path = Path(environ["strata_home"]) / ".env"
    else:
        return {}
    from dotenv import dotenv_values

    return {name.lower(): value for name, value in dotenv_values(path).items() if value is not None}
