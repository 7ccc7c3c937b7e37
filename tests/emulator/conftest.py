"""Fixtures: an emulator on a real loopback port and real SDK clients pointed at it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import anthropic
import pytest

from api.emulator import EmulatorConfig, ScaledClock, create_app
from api.serving import serve_in_thread


@pytest.fixture
def clock() -> ScaledClock:
    return ScaledClock()


@pytest.fixture
def emulator_url(clock: ScaledClock) -> Iterator[str]:
    with serve_in_thread(create_app(EmulatorConfig(seed=7), clock=clock)) as url:
        yield url


@pytest.fixture
def api_key() -> str:
    return f"sk-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(emulator_url: str, api_key: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=emulator_url, api_key=api_key, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def async_client(emulator_url: str, api_key: str) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=emulator_url, api_key=api_key, max_retries=0
    ) as sdk:
        yield sdk
