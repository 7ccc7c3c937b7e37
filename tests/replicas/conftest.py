"""Two replicas as real processes: `strata serve` twice, on separate homes, sharing a real
PostgreSQL, a real `chroma run` server and one emulator, and nothing else (no disk)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import free_port, serve_in_thread
from tests.ledger.usage_fixtures import EmulatorTap
from tests.postgres import postgres_server  # noqa: F401 (fixture)

STRATA = str(Path(sys.executable).with_name("strata"))
CHROMA = str(Path(sys.executable).with_name("chroma"))
# Short, so a killed replica's jobs are taken over quickly; renewed every third of it.
LEASE_SECONDS = 4


def wait_until(condition: object, timeout_seconds: float, what: str) -> None:
    """Poll condition (a callable) until it is true."""
    deadline = time.monotonic() + timeout_seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}: not reached in {timeout_seconds:g}s"
        time.sleep(0.1)


@dataclass
class Replica:
    """One `strata serve` process and a client for it."""

    process: subprocess.Popen[bytes]
    http: httpx.Client

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


@dataclass
class Cluster:
    """What the replicas share, and the replicas."""

    database_url: str
    chroma_url: str
    emulator: EmulatorTap
    emulator_url: str
    replicas: list[Replica]


def _chroma_ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def chroma_url() -> Iterator[str]:
    """`chroma run` on 127.0.0.1 with its data in a temporary folder."""
    path, port = tempfile.mkdtemp(prefix="strata-chroma-"), free_port()
    log = open(Path(path) / "server.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [
            CHROMA,
            "run",
            "--path",
            str(Path(path) / "data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: process.poll() is not None or _chroma_ready(url), 60, "chroma run")
        assert process.poll() is None, (Path(path) / "server.log").read_text()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        shutil.rmtree(path)


@pytest.fixture(scope="module")
def shared_database(postgres_server: str) -> Iterator[str]:  # noqa: F811
    name = "replicas_" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield f"{postgres_server}/{name}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _start_replica(home: Path, cluster: Cluster, log: Path) -> Replica:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "ANTHROPIC_API_KEY" and not k.startswith("STRATA_")
    }
    env |= {
        "STRATA_HOME": str(home),
        "STRATA_DATABASE_URL": cluster.database_url,
        "STRATA_CHROMA_URL": cluster.chroma_url,
        "STRATA_ANTHROPIC_BASE_URL": cluster.emulator_url,
        "STRATA_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        # Mark every layer: the adaptive policy's reuse estimate is per process.
        "STRATA_CACHE_POLICY": "always",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    process = subprocess.Popen(
        [STRATA, "serve", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return Replica(process, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120))


def _ready(replica: Replica) -> bool:
    assert replica.process.poll() is None, "a replica exited while starting"
    try:
        return replica.http.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, shared_database: str, chroma_url: str
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("replicas")
    # A slow first token, so requests sent together are still answering together.
    tap = EmulatorTap(create_emulator(EmulatorConfig(ttft_ms=400)))
    with serve_in_thread(tap) as emulator_url:
        cluster = Cluster(shared_database, chroma_url, tap, emulator_url, [])
        try:
            for name in ("a", "b"):
                replica = _start_replica(root / name, cluster, root / f"{name}.log")
                cluster.replicas.append(replica)
            for replica in cluster.replicas:
                wait_until(lambda r=replica: _ready(r), 300, "replica ready")
            yield cluster
        finally:
            for replica in cluster.replicas:
                if replica.process.poll() is None:
                    replica.process.terminate()
                    replica.process.wait(timeout=90)
                replica.http.close()
