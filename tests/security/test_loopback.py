"""The loopback rule, through the real `strata serve` command in a child process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.serving import free_port
from tests.processes import environment_without_settings, wait_until_serving

STRATA = Path(sys.executable).with_name("strata")


def _environment(home: Path, **extra: str) -> dict[str, str]:
    clean = environment_without_settings()
    return {**clean, "STRATA_HOME": str(home), "HF_HUB_OFFLINE": "1", **extra}


def test_serving_on_all_addresses_without_keys_is_refused_with_how_to_set_them(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [STRATA, "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=_environment(tmp_path / "home"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0" in result.stderr
    assert "STRATA_API_KEYS=" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def exposed_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    process = subprocess.Popen(
        [STRATA, "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=_environment(tmp_path / "home", STRATA_API_KEYS="exposed-secret-123:viewer"),
        cwd=tmp_path,
    )
    try:
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_serving_on_all_addresses_with_keys_starts_and_asks_for_them(
    exposed_server: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = exposed_server
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(process, url)
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/v1/usage/summary").status_code == 401
        key = {"authorization": "Bearer exposed-secret-123"}
        assert http.get("/v1/usage/summary", headers=key).status_code == 200
