"""Two replicas as real processes: `strata serve` twice, on separate homes, sharing a real
PostgreSQL, a real `chroma run` server and one emulator, and nothing else (no disk)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import serve_in_thread
from tests.ledger.usage_fixtures import EmulatorTap
from tests.postgres import postgres_server  # noqa: F401 (fixture)
from tests.replicas.processes import Replica, chroma_server, start_replica, wait_until

# Short, so a killed replica's jobs are taken over quickly; renewed every third of it.
LEASE_SECONDS = 4


@dataclass
class Cluster:
    """What the replicas share, and the replicas."""

    database_url: str
    chroma_url: str
    emulator: EmulatorTap
    emulator_url: str
    replicas: list[Replica]


@pytest.fixture(scope="module")
def chroma_url() -> Iterator[str]:
    """`chroma run` on 127.0.0.1 with its data in a temporary folder."""
    with chroma_server() as url:
        yield url


@pytest.fixture(scope="module")
def shared_database(postgres_server: str) -> Iterator[str]:  # noqa: F811
    name = "replicas_" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield f"{postgres_server}/{name}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _start_replica(home: Path, cluster: Cluster, log: Path) -> Replica:
    settings = {
        "STRATA_DATABASE_URL": cluster.database_url,
        "STRATA_CHROMA_URL": cluster.chroma_url,
        "STRATA_ANTHROPIC_BASE_URL": cluster.emulator_url,
        "STRATA_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    return start_replica(home, settings, log)


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
                wait_until(replica.ready, 300, "replica ready")
            yield cluster
        finally:
            for replica in cluster.replicas:
                replica.stop()
