"""The ledger's fixtures: a throwaway PostgreSQL cluster, and a ledger on each database."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from api.app import create_app
from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import free_port, serve_in_thread
from rag.embeddings import Embedder
from rag.ledger import Ledger, database_url
from rag.settings import Settings
from rag.store import ChunkStore
from rag.types import Chunk
from tests.ledger.usage_fixtures import EmulatorTap


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


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty ledger database: SQLite under tmp_path, or PostgreSQL."""
    if request.param == "sqlite":
        return database_url(tmp_path, None)
    return database_url(tmp_path, request.getfixturevalue("postgres_url"))


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    opened = Ledger.open(ledger_url)
    yield opened
    opened.close()


PARAGRAPHS = {
    "lighthouses": [
        "The Fresnel lens, invented by Augustin-Jean Fresnel in 1822, lets a lighthouse project "
        "its beam over twenty nautical miles using concentric rings of glass prisms.",
        "Lighthouse keepers trimmed wicks, wound the clockwork that turned the lens and kept a "
        "log of passing ships, the weather and every hour the light was lit.",
    ],
    "bees": [
        "Bees make honey by evaporating nectar until its water content falls below about "
        "eighteen percent, then cap the cells with wax.",
        "Worker bees perform a waggle dance to tell their sisters the direction and distance "
        "of flowers, relative to the position of the sun.",
    ],
}


def sample_chunks() -> list[Chunk]:
    chunks = []
    for document, paragraphs in PARAGRAPHS.items():
        for position, text in enumerate(paragraphs):
            # Repeated so the documents layer is over every model's minimum cacheable length.
            body = " ".join([text] * 6)
            chunks.append(
                Chunk(
                    chunk_id=f"{document}-{position}",
                    document_id=document,
                    source=f"{document}.md",
                    title=document.title(),
                    text=body,
                    heading_path=(),
                    position=position,
                    char_start=0,
                    char_end=len(body),
                )
            )
    return chunks


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder().load()


@pytest.fixture
def corpus_home(tmp_path: Path, embedder: Embedder) -> Path:
    """A state directory whose store holds the sample chunks."""
    home = tmp_path / "home"
    store = ChunkStore.open(home)
    chunks = sample_chunks()
    store.upsert(chunks, embedder.embed_texts([c.text for c in chunks]))
    store.close()
    return home


@pytest.fixture
def tap() -> EmulatorTap:
    return EmulatorTap(create_emulator(EmulatorConfig()))


@pytest.fixture
def emulator_url(tap: EmulatorTap) -> Iterator[str]:
    with serve_in_thread(tap) as url:
        yield url


@pytest.fixture
def strata_settings(corpus_home: Path, emulator_url: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        home=corpus_home,
        anthropic_base_url=emulator_url,
        max_streams_per_key=256,
        _env_file=None,
    )


@pytest.fixture
def strata_url(strata_settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(strata_settings)) as url:
        yield url


@pytest.fixture
def client(strata_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=strata_url, timeout=60) as http:
        yield http
