"""The processes of a multi-replica set-up, for the tests and the benchmarks alike:
`chroma run` and `strata serve` replicas sharing a database, a Chroma server and an emulator."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from api.serving import free_port
from tests.processes import environment_without_settings

STRATA = str(Path(sys.executable).with_name("strata"))
CHROMA = str(Path(sys.executable).with_name("chroma"))


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

    def ready(self) -> bool:
        assert self.process.poll() is None, "a replica exited while starting"
        try:
            return self.http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=90)
        self.http.close()


def _chroma_ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def chroma_server() -> Iterator[str]:
    """`chroma run` on 127.0.0.1 with its data in a temporary folder; yields its URL."""
    path, port = tempfile.mkdtemp(prefix="strata-chroma-"), free_port()
    log = open(Path(path) / "server.log", "wb")  # noqa: SIM115 (closed below)
    command = [CHROMA, "run", "--path", str(Path(path) / "data"), "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
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


def start_replica(home: Path, settings: Mapping[str, str], log: Path) -> Replica:
    """`strata serve` on a free port with home and settings (`STRATA_...`), none of ours."""
    port = free_port()
    env = environment_without_settings()
    env |= {"STRATA_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env |= settings
    process = subprocess.Popen(
        [STRATA, "serve", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return Replica(process, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120))
