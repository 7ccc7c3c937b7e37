from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from api.serving import free_port


@pytest.fixture
def cli_emulator_url() -> Iterator[str]:
    port = free_port()
    strata = Path(sys.executable).parent / "strata"
    command = [str(strata), "emulator", "--port", str(port), "--seed", "5", "--time-scale", "10"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    pause = threading.Event()
    try:
        for _ in range(1_000):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                httpx.get(f"{url}/v1/models", headers={"x-api-key": "k"})
                break
            except httpx.TransportError:
                pause.wait(0.02)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_strata_emulator_serves_the_api_to_any_sdk_client(cli_emulator_url: str) -> None:
    sdk = anthropic.Anthropic(base_url=cli_emulator_url, api_key="sk-cli", max_retries=0)
    message = sdk.messages.create(
        model="claude-sonnet-5-5", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.id.startswith("msg_")
    with pytest.raises(anthropic.OverloadedError):
        sdk.messages.create(
            model="claude-sonnet-5-5",
            max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-emulator-fault": "overloaded"},
        )


def test_strata_emulator_refuses_an_impossible_fault_rate() -> None:
    strata = Path(sys.executable).parent / "strata"
    done = subprocess.run(
        [str(strata), "emulator", "--fault-rate", "2"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "fault_rate" in done.stderr
