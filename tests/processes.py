"""Run the real `strata` command line as a separate process, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def run_strata(
    *args: str,
    home: Path,
    emulator_url: str | None = None,
    settings: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """`strata ARGS` on home, offline or against emulator_url; none of the caller's settings.

    settings adds environment variables (`STRATA_...`) for this run only.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "ANTHROPIC_API_KEY" and not key.startswith("STRATA_")
    }
    env |= {"STRATA_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if emulator_url is not None:
        env["STRATA_ANTHROPIC_BASE_URL"] = emulator_url
    env |= settings or {}
    command = [sys.executable, "-c", "from api.cli import main; main()", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
