"""Run the real `strata` command line as a separate process, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

# Only a bound on a hung start: the wait ends as soon as the server answers or exits.
_START_DEADLINE_SECONDS = 600

# The one Strata setting a started process keeps: the test run's own model cache.
MODEL_CACHE_VARIABLE = "STRATA_MODEL_CACHE_DIR"


def environment_without_settings() -> dict[str, str]:
    """This process's environment less Strata's and the Claude SDK's settings.

    Every `STRATA_` and `ANTHROPIC_` variable goes, in any case (pydantic-settings reads names
    in any case): a test's process talks to the emulator the test names, with the key it
    names, never with the caller's. STRATA_MODEL_CACHE_DIR stays: set by tests/conftest.py to
    the run's own folder, so a process a test starts builds and reads its ONNX exports there,
    not in the user's cache.
    """
    return {
        key: value
        for key, value in os.environ.items()
        if key == MODEL_CACHE_VARIABLE or not key.upper().startswith(("STRATA_", "ANTHROPIC_"))
    }


def run_strata(
    *args: str,
    home: Path,
    emulator_url: str | None = None,
    settings: Mapping[str, str] | None = None,
    timeout: float = 300,
    modules_file: Path | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`strata ARGS` on home, offline or against emulator_url; none of the caller's settings.

    settings adds environment variables (`STRATA_...`) for this run only. With modules_file,
    the process writes the name of every module it imported there as it exits.
    """
    env = environment_without_settings()
    env |= {"STRATA_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if emulator_url is not None:
        env["STRATA_ANTHROPIC_BASE_URL"] = emulator_url
    env |= settings or {}
    code = "from api.cli import main; main()"
    if modules_file is not None:
        code = (
            "import atexit, pathlib, sys; atexit.register(lambda: pathlib.Path("
            f"{str(modules_file)!r}).write_text(chr(10).join(sorted(sys.modules)))); {code}"
        )
    command = [sys.executable, "-c", code, *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


# What a command that only talks to a server, or finds nothing to ingest, must never load.
ENGINES = ("torch", "chromadb", "sentence_transformers", "anthropic", "api.emulator")


# What a command sent to a server must not load either: each is start-up a terminal waits for
# and a client never uses (the settings model, the database layer, numpy, asyncio, typer and
# the pydantic it checks options with, an HTTP library where the standard library's will do).
NOT_FOR_A_CLIENT = (
    *ENGINES,
    "rag.settings",
    "pydantic_settings",
    "pydantic",
    "pydantic_core",
    "typer",
    "click",
    "rag.storage",
    "sqlalchemy",
    "numpy",
    "asyncio",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "pygments",
)

# A command that prints plain lines (ask, search, batch) needs no terminal toolkit either; only
# the usage tables and the ingest progress bar use rich.
NOT_FOR_PLAIN_LINES = (*NOT_FOR_A_CLIENT, "rich")


def engines_loaded(modules_file: Path) -> list[str]:
    """The engines among the modules a run_strata(modules_file=...) process imported."""
    return _loaded(modules_file, ENGINES)


def more_than_a_client(modules_file: Path, plain_lines: bool = False) -> list[str]:
    """What a run_strata(modules_file=...) process imported that a client should not.

    plain_lines: the command prints plain lines, so rich is too much as well.
    """
    return _loaded(modules_file, NOT_FOR_PLAIN_LINES if plain_lines else NOT_FOR_A_CLIENT)


def _loaded(modules_file: Path, names: tuple[str, ...]) -> list[str]:
    loaded = modules_file.read_text().splitlines()
    return [n for n in loaded if any(n == e or n.startswith(f"{e}.") for e in names)]


def wait_until_serving(process: subprocess.Popen[bytes], url: str) -> None:
    """Return once url/healthz answers; fail at once if the process exits first.

    A loaded machine may take minutes to load the model: the wait is on the server answering,
    not on a number of retries.
    """
    deadline = time.monotonic() + _START_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            raise AssertionError(f"the server exited with code {code} before it answered")
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server at {url} did not answer within the deadline")
