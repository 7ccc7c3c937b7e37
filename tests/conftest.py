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
from tests.processes import MODEL_CACHE_VARIABLE


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The run's own folder of ONNX exports, so none is written to the user's model cache.

    Set as STRATA_MODEL_CACHE_DIR, which every Settings reads and every process a test starts
    is given (tests/processes.py); built into once, on the run's first load of the model.
    """
    folder = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MODEL_CACHE_VARIABLE, str(folder))
        yield folder


@pytest.fixture(scope="session")
def embedder(model_cache: Path) -> Embedder:
    """The bundled embedding model, loaded once for the whole run (read-only by contract)."""
    return Embedder(onnx_dir=model_cache).load()


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
