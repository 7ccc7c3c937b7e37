"""Waiting on an upload job over HTTP until it has an outcome."""

from __future__ import annotations

import time
from typing import Any

import httpx


def wait_for_job(
    http: httpx.Client, job_id: str, timeout: float = 300, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The job once it is neither queued nor running; fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while (job := http.get(f"/v1/jobs/{job_id}", headers=headers).json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, f"job {job_id} never finished"
        time.sleep(0.1)
    return dict(job)
