"""Answers per second and time to the first answer byte, with one replica and with two.

The scaled-out set-up as real processes on this machine: PostgreSQL, `chroma run`, one emulator
and two `strata serve` replicas sharing them (tests/replicas/). The same concurrent clients
first send every question to one replica, then spread them over both. Time to first byte is
from sending the question to the first `delta` event of its answer stream. The answer cache is
off so that every question is answered; the machine's two cores are shared by everything here,
so the figures say what a second replica buys on one small machine, measured in one run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from httpx_sse import connect_sse

from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import serve_in_thread
from tests.benchmarks.bench_cli import SAMPLE
from tests.postgres import running_postgres
from tests.replicas.processes import Replica, chroma_server, start_replica, wait_until

CLIENTS = 8
ASKS_PER_CLIENT = 6
# Claude's own latency, as the emulator plays it: the replicas wait on it concurrently.
TTFT_MS = 300
SUBJECTS = ["lists", "tuples", "strings", "dictionaries", "sets", "slices", "ranges", "bytes"]


def _question(client: int, n: int, phase: str) -> str:
    subject = SUBJECTS[(client + n) % len(SUBJECTS)]
    return f"How do Python {subject} behave when copied? ({phase} {client}.{n})"


def _ask(replica: Replica, question: str) -> float:
    """Seconds from sending question to the first byte of its answer; the stream is read out."""
    body = {"question": question, "stream": True}
    started = time.perf_counter()
    first: float | None = None
    with connect_sse(replica.http, "POST", "/v1/ask", json=body) as source:
        assert source.response.status_code == 200, source.response.read()
        for event in source.iter_sse():
            if event.event == "delta" and first is None:
                first = time.perf_counter() - started
            assert event.event != "error", event.data
    assert first is not None, "an answer without text"
    return first


def _load(replicas: list[Replica], phase: str) -> dict[str, float]:
    """CLIENTS clients asking ASKS_PER_CLIENT questions each, spread over replicas."""
    lock = threading.Lock()
    ttfb: list[float] = []

    def client(number: int) -> None:
        for n in range(ASKS_PER_CLIENT):
            seconds = _ask(replicas[(number + n) % len(replicas)], _question(number, n, phase))
            with lock:
                ttfb.append(seconds)

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    wall = time.perf_counter() - started
    ttfb.sort()
    return {
        "answers_per_s": round(len(ttfb) / wall, 2),
        "ttfb_p50_ms": round(statistics.median(ttfb) * 1000),
        "ttfb_p99_ms": round(ttfb[min(len(ttfb) - 1, int(0.99 * len(ttfb)))] * 1000),
    }


def _ingest(url: str, root: Path) -> None:
    command = [sys.executable, "-c", "from api.cli import main; main()", "ingest", str(SAMPLE)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
    env |= {"STRATA_URL": url, "STRATA_HOME": str(root / "client")}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr


def run() -> dict[str, object]:
    """Start the set-up, ingest the sample corpus, load one replica and then both."""
    with (
        tempfile.TemporaryDirectory(prefix="strata-bench-replicas-") as scratch,
        running_postgres() as postgres,
        chroma_server() as chroma_url,
        serve_in_thread(create_emulator(EmulatorConfig(ttft_ms=TTFT_MS))) as emulator_url,
    ):
        root = Path(scratch)
        name = "bench_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"{postgres}/postgres", autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        settings = {
            "STRATA_DATABASE_URL": f"{postgres}/{name}",
            "STRATA_CHROMA_URL": chroma_url,
            "STRATA_ANTHROPIC_BASE_URL": emulator_url,
            "STRATA_CACHE_POLICY": "off",
        }
        replicas = [start_replica(root / n, settings, root / f"{n}.log") for n in ("a", "b")]
        try:
            for replica in replicas:
                wait_until(replica.ready, 600, "replica ready")
            _ingest(str(replicas[0].http.base_url).rstrip("/"), root)
            # Warm both: the first question of a process loads what it loads lazily.
            for replica in replicas:
                _ask(replica, "What is a warm-up question?")
            one = _load(replicas[:1], "one")
            two = _load(replicas, "two")
        finally:
            for replica in replicas:
                replica.stop()
    return {
        "clients": CLIENTS,
        "answers": CLIENTS * ASKS_PER_CLIENT,
        "emulator_ttft_ms": TTFT_MS,
        "one_replica_answers_per_s": one["answers_per_s"],
        "two_replicas_answers_per_s": two["answers_per_s"],
        "throughput_ratio_two_to_one": round(two["answers_per_s"] / one["answers_per_s"], 2),
        "one_replica_ttfb_p50_ms": one["ttfb_p50_ms"],
        "one_replica_ttfb_p99_ms": one["ttfb_p99_ms"],
        "two_replicas_ttfb_p50_ms": two["ttfb_p50_ms"],
        "two_replicas_ttfb_p99_ms": two["ttfb_p99_ms"],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
