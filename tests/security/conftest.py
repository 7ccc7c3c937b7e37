"""The app served with one key per role, and clients that carry them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.serving import serve_in_thread
from rag.settings import Role, Settings

KEYS: dict[Role, str] = {
    "admin": "admin-secret-0123456789",
    "user": "user-secret-0123456789",
    "viewer": "viewer-secret-0123456789",
}


def bearer(role: Role) -> dict[str, str]:
    return {"authorization": f"Bearer {KEYS[role]}"}


def keyed_settings_in(home: Path, **overrides: object) -> Settings:
    """Settings with one key per role and small limits, so limits are cheap to cross."""
    values: dict[str, object] = {
        "home": home,
        "api_keys": ",".join(f"{secret}:{role}" for role, secret in KEYS.items()),
        "max_request_bytes": 64 * 1024,
        "max_upload_bytes": 256 * 1024,
        "max_files_per_upload": 2,
        # The fuzzer sends hundreds of requests a minute; test_spend_limits.py sets its own.
        "rate_limit_per_minute": 100_000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def keyed_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return keyed_settings_in(tmp_path_factory.mktemp("keyed") / "home")


@pytest.fixture(scope="module")
def keyed_app(keyed_settings: Settings) -> FastAPI:
    return create_app(keyed_settings)


@pytest.fixture(scope="module")
def keyed_url(keyed_app: FastAPI) -> Iterator[str]:
    """The app with keys configured, served once per test module."""
    with serve_in_thread(keyed_app) as url:
        yield url


@pytest.fixture
def anonymous(keyed_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=keyed_url, timeout=30) as client:
        yield client


@pytest.fixture
def admin(keyed_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=keyed_url, headers=bearer("admin"), timeout=30) as client:
        yield client


def assert_error_shape(response: httpx.Response, status: int, kind: str | None = None) -> None:
    """The common error body, with the response's own request id and no traceback."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"type", "message", "request_id"}
    assert error["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    if kind is not None:
        assert error["type"] == kind
