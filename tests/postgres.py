"""A throwaway PostgreSQL cluster on 127.0.0.1 for the suites that need the real database."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from api.serving import free_port


def _postgres_bin() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not candidates:
        pytest.fail("PostgreSQL is not installed: run `make system-deps`")
    return candidates[-1].parent


def _as_cluster_owner(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; run them as an unprivileged user.
    return ["runuser", "-u", "nobody", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL cluster on 127.0.0.1 in a temporary directory; yields its base URL."""
    with running_postgres() as url:
        yield url


@contextmanager
def running_postgres() -> Iterator[str]:
    """A PostgreSQL cluster on 127.0.0.1 in a temporary directory, stopped afterwards."""
    bin_dir = _postgres_bin()
    # Not under pytest's tmp dir: that is private to root, and the cluster runs as nobody.
    root = Path(tempfile.mkdtemp(prefix="strata-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
    data, port = root / "data", free_port()
    subprocess.run(
        _as_cluster_owner(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "strata", "--auth=trust", "--no-sync"]
        ),
        check=True,
        capture_output=True,
    )
    pg_ctl = str(bin_dir / "pg_ctl")
    options = f"-h 127.0.0.1 -p {port} -k {root} -F"
    log = str(root / "log")
    subprocess.run(
        _as_cluster_owner([pg_ctl, "-D", str(data), "-l", log, "-w", "-o", options, "start"]),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://strata@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_cluster_owner([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=True,
            capture_output=True,
        )
        shutil.rmtree(root)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the test cluster."""
    name = "ledger_" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield f"{postgres_server}/{name}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
