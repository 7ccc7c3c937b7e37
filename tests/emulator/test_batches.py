from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import anthropic
import pytest

from api.emulator import EmulatorConfig, ScaledClock, create_app
from api.serving import serve_in_thread
from tests.emulator.material import LIST_FACTS, MODEL, long_text, question_turn, search_result

SYSTEM = [{"type": "text", "text": long_text(700, "rule"), "cache_control": {"type": "ephemeral"}}]


def _params(question: str) -> dict[str, Any]:
    documents = search_result("docs/lists.md", "Lists", LIST_FACTS)
    return {
        "model": MODEL,
        "max_tokens": 300,
        "system": SYSTEM,
        "messages": [question_turn(question, documents)],
    }


def _wait_until(condition: Callable[[], bool]) -> None:
    pause = threading.Event()
    for _ in range(2_000):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError("condition never became true")


def _ended(client: anthropic.Anthropic, batch_id: str) -> anthropic.types.messages.MessageBatch:
    _wait_until(lambda: client.messages.batches.retrieve(batch_id).processing_status == "ended")
    return client.messages.batches.retrieve(batch_id)


def test_a_batch_runs_in_the_background_and_returns_jsonl_results(
    client: anthropic.Anthropic, emulator_url: str
) -> None:
    bad_params = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": "first", "params": _params("How do I reverse a list?")},
            {"custom_id": "second", "params": _params("What does reversed return?")},
            {"custom_id": "broken", "params": bad_params},
        ]
    )
    assert batch.id.startswith("msgbatch_")
    assert batch.results_url is None
    assert batch.request_counts.processing == 3
    ended = _ended(client, batch.id)
    assert ended.results_url.startswith(emulator_url)
    counts = ended.request_counts
    assert (counts.processing, counts.succeeded, counts.errored) == (0, 2, 1)
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert results["first"].type == "succeeded"
    assert results["first"].message.content[0].text.startswith(LIST_FACTS[0])
    assert results["first"].message.usage.service_tier == "batch"
    assert results["second"].message.usage.cache_read_input_tokens > 0
    assert results["broken"].type == "errored"
    assert results["broken"].error.error.message == "max_tokens: Field required"


def test_batches_are_listed_newest_first_and_per_key(
    client: anthropic.Anthropic, emulator_url: str
) -> None:
    ids = [
        client.messages.batches.create(requests=[{"custom_id": "a", "params": _params("q")}]).id
        for _ in range(3)
    ]
    assert [b.id for b in client.messages.batches.list(limit=2)] == ids[::-1]
    with anthropic.Anthropic(base_url=emulator_url, api_key="sk-other", max_retries=0) as other:
        assert list(other.messages.batches.list()) == []


def test_cancel_ends_the_batch_with_unanswered_requests_canceled(api_key: str) -> None:
    with serve_in_thread(create_app(EmulatorConfig(ttft_ms=300))) as url:
        sdk = anthropic.Anthropic(base_url=url, api_key=api_key, max_retries=0)
        requests = [{"custom_id": f"r{i}", "params": _params("q")} for i in range(5)]
        batch = sdk.messages.batches.create(requests=requests)
        canceling = sdk.messages.batches.cancel(batch.id)
        assert canceling.processing_status == "canceling"
        assert canceling.cancel_initiated_at is not None
        ended = _ended(sdk, batch.id)
        assert ended.request_counts.canceled >= 4
        assert ended.request_counts.canceled + ended.request_counts.succeeded == 5
        kinds = {r.result.type for r in sdk.messages.batches.results(batch.id)}
        assert "canceled" in kinds
        sdk.messages.batches.delete(batch.id)


def test_requests_left_past_24_hours_expire(api_key: str) -> None:
    clock = ScaledClock()
    with serve_in_thread(create_app(EmulatorConfig(ttft_ms=300), clock=clock)) as url:
        sdk = anthropic.Anthropic(base_url=url, api_key=api_key, max_retries=0)
        requests = [{"custom_id": f"r{i}", "params": _params("q")} for i in range(4)]
        batch = sdk.messages.batches.create(requests=requests)
        clock.advance(24 * 3600 + 1)
        ended = _ended(sdk, batch.id)
        assert ended.request_counts.expired >= 3
        lines = list(sdk.messages.batches.results(batch.id))
        assert {line.result.type for line in lines} <= {"succeeded", "expired"}


def test_results_are_newline_separated_json_with_no_blank_lines(
    client: anthropic.Anthropic, api_key: str
) -> None:
    requests = [{"custom_id": f"r{i}", "params": _params("q")} for i in range(3)]
    batch = client.messages.batches.create(requests=requests)
    ended = _ended(client, batch.id)
    raw = client.get(
        ended.results_url, cast_to=str, options={"headers": {"accept": "application/binary"}}
    )
    assert raw.endswith("\n")
    assert "\r" not in raw
    assert all(line for line in raw.split("\n")[:-1])
    assert len(raw.split("\n")) == 4


def test_a_batch_with_a_duplicate_custom_id_is_refused(client: anthropic.Anthropic) -> None:
    requests = [{"custom_id": "same", "params": _params("q")}] * 2
    with pytest.raises(anthropic.BadRequestError, match="not unique"):
        client.messages.batches.create(requests=requests)
