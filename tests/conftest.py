"""Fixtures shared by every suite: settings in a temporary home, the app on a real port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.serving import serve_in_thread
from rag.embeddings import Embedder
from rag.settings import Settings


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled embedding model, loaded once for the whole run (read-only by contract)."""
    return Embedder().load()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def app_url(settings: Settings) -> Iterator[str]:
    """The Strata app served by uvicorn on a free loopback port."""
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture
def http(app_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app_url, timeout=30) as client:
        yield client


@pytest.fixture
def strata_url(strata_settings: Settings) -> Iterator[str]:
    """Strata served on a free loopback port with the suite's own strata_settings."""
    with serve_in_thread(create_app(strata_settings)) as url:
        yield url


@pytest.fixture
def client(strata_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=strata_url, timeout=60) as http:
        yield http
