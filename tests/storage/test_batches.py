"""A batch's calls are recorded once, whichever replicas collect it at the same time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from rag.storage import Database
from rag.storage.batches import BatchStore, StoredBatch, StoredQuestion
from rag.types import CacheLayer


def _ended_batch(store: BatchStore) -> str:
    now = datetime.now(UTC)
    question = StoredQuestion(
        0, "q-0", "Why?", "claude-sonnet-5-5", (), {CacheLayer.SYSTEM: 10}, 50
    )
    store.insert(
        StoredBatch("batch_1", "msgbatch_1", "in_progress", {}, now, None, False, 1), [question]
    )
    store.save_results("batch_1", {"succeeded": 1}, now, [question])
    return "batch_1"


def test_a_second_replica_waits_for_the_first_to_record_and_then_finds_it_recorded(
    open_replica: Callable[[], Database],
) -> None:
    first, second = BatchStore(open_replica()), BatchStore(open_replica())
    batch_id = _ended_batch(first)
    recording = threading.Event()
    release = threading.Event()
    seen: list[bool] = []

    def record_on_first() -> None:
        with first.recording(batch_id) as pending:
            seen.append(pending)
            recording.set()
            release.wait(30)

    def record_on_second() -> None:
        with second.recording(batch_id) as pending:
            seen.append(pending)

    one = threading.Thread(target=record_on_first)
    one.start()
    assert recording.wait(30)
    two = threading.Thread(target=record_on_second)
    two.start()
    two.join(0.5)
    assert two.is_alive(), "the second replica did not wait for the first"
    release.set()
    one.join()
    two.join()
    assert seen == [True, False]
    assert second.get(batch_id).recorded
    assert second.unrecorded() == []


def test_a_recording_that_failed_leaves_the_batch_to_record_again(
    open_replica: Callable[[], Database],
) -> None:
    first, second = BatchStore(open_replica()), BatchStore(open_replica())
    batch_id = _ended_batch(first)
    try:
        with first.recording(batch_id):
            raise RuntimeError("the ledger is down")
    except RuntimeError:
        pass
    assert [b.batch_id for b in second.unrecorded()] == [batch_id]
    with second.recording(batch_id) as pending:
        assert pending
    assert first.get(batch_id).recorded
