"""The CLI as whole processes: an unchanged re-ingest against the first ingest, and a question
asked through a running server against one answered locally and against a bare Python start.

Each figure is a process's wall time from start to exit, start-up included, as a user sees it;
the ratios are measured in one run. The corpus is real text: data/sample plus topics of the
Python reference that ship with CPython (pydoc_data).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from pydoc_data.topics import topics

from tests.replicas.processes import start_replica, wait_until

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
TOPICS = 40
REINGEST_RUNS = 3
LOCAL_ASKS = 2
SERVER_ASKS = 5
STRATA = "from api.cli import main; main()"
QUESTIONS = [
    "How do I reverse a list in place?",
    "What does the with statement do?",
    "How are exceptions raised and caught?",
    "What is a generator expression?",
    "How does slicing work on sequences?",
]


def _corpus(folder: Path) -> None:
    shutil.copytree(SAMPLE, folder)
    for name in sorted(topics, key=lambda t: -len(topics[t]))[:TOPICS]:
        (folder / f"python-{name}.txt").write_text(topics[name])


def _environment(home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "ANTHROPIC_API_KEY" and not key.startswith("STRATA_")
    }
    # No answer cache: every ask does the whole work, locally and on the server alike.
    env |= {"STRATA_HOME": str(home), "STRATA_CACHE_POLICY": "off", "HF_HUB_OFFLINE": "1"}
    return env


def _timed(args: list[str], env: dict[str, str], cwd: Path, code: str = STRATA) -> float:
    """Wall seconds of `strata ARGS` (or of another code) as a process; it must succeed."""
    command = [sys.executable, "-c", code, *args]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    return seconds


def run() -> dict[str, object]:
    """Time the processes; the ratios."""
    with tempfile.TemporaryDirectory(prefix="strata-bench-cli-") as scratch:
        root = Path(scratch)
        _corpus(root / "corpus")
        env = _environment(root / "home")
        first = _timed(["ingest", "corpus"], env, root)
        again = [_timed(["ingest", "corpus"], env, root) for _ in range(REINGEST_RUNS)]
        local = [_timed(["ask", QUESTIONS[n], "--no-stream"], env, root) for n in range(LOCAL_ASKS)]
        replica = start_replica(root / "home", {"STRATA_CACHE_POLICY": "off"}, root / "serve.log")
        try:
            wait_until(replica.ready, 600, "strata serve ready")
            url = str(replica.http.base_url).rstrip("/")
            served = [
                _timed(
                    ["ask", QUESTIONS[n % len(QUESTIONS)], "--no-stream", "--url", url], env, root
                )
                for n in range(SERVER_ASKS)
            ]
        finally:
            replica.stop()
        # What any Python process costs on this machine now: the floor of a client command.
        bare = [_timed([], env, root, code="pass") for _ in range(SERVER_ASKS)]
    return {
        "corpus_files": TOPICS + sum(1 for _ in SAMPLE.iterdir()),
        "first_ingest_process_s": round(first, 2),
        "unchanged_reingest_process_s": round(statistics.median(again), 3),
        "reingest_process_speedup": round(first / statistics.median(again), 1),
        "reingest_target": 50,
        "local_ask_process_s": round(statistics.median(local), 2),
        "server_ask_process_s": round(statistics.median(served), 3),
        "ask_process_speedup": round(statistics.median(local) / statistics.median(served), 1),
        "bare_python_process_s": round(statistics.median(bare), 3),
        "server_ask_over_bare_python": round(
            statistics.median(served) / statistics.median(bare), 1
        ),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
