"""Upload jobs are a shared queue: each job goes to one replica, a dead replica's job to another."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rag.storage import Database
from rag.storage.jobs import MAX_ATTEMPTS, Job, JobStore


def _queue(store: JobStore, count: int) -> list[str]:
    ids = []
    for n in range(count):
        stamp = f"2026-11-30T12:00:{n:02d}.000+00:00"
        job = Job(f"job_{n:02d}", f"f{n}.md", None, "queued", None, None, stamp, stamp)
        store.insert(job, f"# file {n}".encode())
        ids.append(job.job_id)
    return ids


def test_replicas_claiming_at_once_each_take_different_jobs_until_none_is_left(
    open_replica: Callable[[], Database],
) -> None:
    stores = [JobStore(open_replica(), lease_seconds=60) for _ in range(2)]
    ids = _queue(stores[0], 20)
    taken: list[tuple[str, str, bytes]] = []
    lock = threading.Lock()

    def worker(store: JobStore, owner: str) -> None:
        while (claimed := store.claim(owner)) is not None:
            with lock:
                taken.append((claimed.job.job_id, owner, claimed.data))
            assert store.finish(claimed.job.job_id, owner, "done", "doc", None)

    threads = [
        threading.Thread(target=worker, args=(stores[n % 2], f"replica-{n}")) for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(job_id for job_id, _, _ in taken) == ids
    assert {data for job_id, _, data in taken if job_id == "job_07"} == {b"# file 7"}
    assert {stores[1].get(job_id).status for job_id in ids} == {"done"}


def test_the_job_of_a_replica_that_stopped_renewing_is_taken_by_another(
    open_replica: Callable[[], Database],
) -> None:
    dead = JobStore(open_replica(), lease_seconds=0.3)
    alive = JobStore(open_replica(), lease_seconds=0.3)
    _queue(dead, 1)
    claimed = dead.claim("dead")
    assert claimed is not None
    assert alive.claim("alive") is None  # the lease is live

    deadline = time.monotonic() + 30
    while (again := alive.claim("alive")) is None:
        assert time.monotonic() < deadline, "the lapsed lease was never taken over"
        time.sleep(0.05)
    assert again.job.job_id == claimed.job.job_id
    assert again.data == claimed.data
    # The stalled replica wakes up: its outcome no longer counts, nor does its renewal.
    assert not dead.renew(claimed.job.job_id, "dead")
    assert not dead.finish(claimed.job.job_id, "dead", "failed", None, "late")
    assert alive.finish(again.job.job_id, "alive", "done", "doc", None)
    assert alive.get(again.job.job_id).status == "done"


def test_a_job_that_keeps_killing_its_replica_is_given_up(
    open_replica: Callable[[], Database],
) -> None:
    store = JobStore(open_replica(), lease_seconds=0.05)
    (job_id,) = _queue(store, 1)
    for attempt in range(MAX_ATTEMPTS):
        deadline = time.monotonic() + 30
        while store.claim(f"replica-{attempt}") is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    time.sleep(0.1)
    assert store.claim("last") is None
    job = store.get(job_id)
    assert job.status == "failed"
    assert job.error is not None
    assert "interrupted" in job.error


def test_a_stopping_replica_puts_its_jobs_back_for_the_others(
    open_replica: Callable[[], Database],
) -> None:
    stopping, other = JobStore(open_replica(), 60), JobStore(open_replica(), 60)
    _queue(stopping, 1)
    assert stopping.claim("stopping") is not None
    stopping.release("stopping")
    claimed = other.claim("other")
    assert claimed is not None
    assert claimed.job.status == "running"
