"""Concurrent answers per key: one over the limit gets a 429 with retry-after, other keys do not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.limits import STREAM_RETRY_AFTER_SECONDS, StreamLimiter
from api.serving import serve_in_thread
from rag.errors import LimitExceeded
from tests.security.conftest import assert_error_shape, bearer, keyed_settings_in


@pytest.fixture
def one_stream_url(tmp_path: Path) -> Iterator[str]:
    # A slow first token keeps an answer open long enough to ask again beside it.
    slow = EmulatorConfig(ttft_ms=4000)
    with serve_in_thread(create_emulator(slow)) as claude_url:
        settings = keyed_settings_in(
            tmp_path / "home", max_streams_per_key=1, anthropic_base_url=claude_url
        )
        with serve_in_thread(create_app(settings)) as url:
            yield url


def test_a_second_answer_on_the_same_key_waits_its_turn(one_stream_url: str) -> None:
    question = {"question": "What is in the documents?", "stream": True}
    with httpx.Client(base_url=one_stream_url, timeout=60) as http:
        with http.stream("POST", "/v1/ask", json=question, headers=bearer("user")) as first:
            assert first.status_code == 200
            # Keep the iterator: dropping it would close the connection and end the answer.
            lines = first.iter_lines()
            assert next(lines) == "event: retrieval"
            second = http.post("/v1/ask", json=question, headers=bearer("user"))
            other_key = http.post(
                "/v1/ask", json={**question, "stream": False}, headers=bearer("admin")
            )
            assert any(line == "event: done" for line in lines)
        assert_error_shape(second, 429, "limit_exceeded")
        assert second.headers["retry-after"] == str(STREAM_RETRY_AFTER_SECONDS)
        assert other_key.status_code == 200, other_key.text


async def test_a_slot_is_given_back_however_the_answer_ends() -> None:
    limiter = StreamLimiter(max_per_key=1)
    async with limiter.hold("key0"):
        assert limiter.open_streams("key0") == 1
        with pytest.raises(LimitExceeded):
            async with limiter.hold("key0"):
                pass
    with pytest.raises(RuntimeError):
        async with limiter.hold("key0"):
            raise RuntimeError("the client went away")
    assert limiter.open_streams("key0") == 0
    async with limiter.hold("key0"):
        assert limiter.open_streams("key0") == 1
