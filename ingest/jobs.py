"""Background ingestion of uploaded files inside the serving process, with durable job status.

Each accepted upload is a file under home/uploads named by its job id (never by the name the
client sent) and a row in home/jobs.sqlite3. One worker ingests jobs in order, off the event
loop. Jobs a stopped process left queued or running are picked up again on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ingest.loaders import check_document, document_id_of
from ingest.pipeline import FileOutcome, IngestPipeline
from rag.errors import InvalidInput, NotFound

log = logging.getLogger("strata.jobs")

JobStatus = Literal["queued", "running", "done", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id        TEXT PRIMARY KEY,
    filename      TEXT NOT NULL,
    declared_type TEXT,
    status        TEXT NOT NULL,
    document_id   TEXT,
    error         TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
"""
_SHUTDOWN_WAIT_SECONDS = 60
_COLUMNS = "job_id, filename, declared_type, status, document_id, error, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class Job:
    """One uploaded file's way through ingestion."""

    job_id: str
    filename: str
    declared_type: str | None
    status: JobStatus
    document_id: str | None
    error: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Upload:
    """A file received from a client, already on disk under the uploads folder."""

    filename: str
    path: Path
    declared_type: str | None = None
    error: InvalidInput | None = None
    """Why the file was refused while it was received (over the size limit), if it was."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class JobRunner:
    """Queues uploads, ingests them one at a time in the background, and reports their status."""

    def __init__(self, pipeline: IngestPipeline, home: Path, max_unpacked_bytes: int) -> None:
        self.pipeline = pipeline
        self.upload_dir = home / "uploads"
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        self.max_unpacked_bytes = max_unpacked_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(home / "jobs.sqlite3", check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        with self._db:
            self._db.executescript(_SCHEMA)
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._current: asyncio.Future[FileOutcome] | None = None

    def new_upload_path(self) -> Path:
        """A fresh path under the uploads folder to receive a file into."""
        return self.upload_dir / f"{uuid.uuid4().hex}.part"

    def _job_path(self, job_id: str) -> Path:
        return self.upload_dir / job_id

    def _insert(self, job: Job) -> Job:
        with self._lock, self._db:
            self._db.execute(
                f"INSERT INTO jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.job_id,
                    job.filename,
                    job.declared_type,
                    job.status,
                    job.document_id,
                    job.error,
                    job.created_at,
                    job.updated_at,
                ),
            )
        return job

    def _set(
        self, job_id: str, status: JobStatus, document_id: str | None, error: str | None
    ) -> None:
        with self._lock, self._db:
            self._db.execute(
                "UPDATE jobs SET status = ?, document_id = ?, error = ?, updated_at = ?"
                " WHERE job_id = ?",
                (status, document_id, error, _now(), job_id),
            )

    def get(self, job_id: str) -> Job:
        """The job's current state; NotFound if there is no such job."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no job {job_id!r}")
        return Job(*row)

    def reject(self, filename: str, error: str) -> Job:
        """Record a file refused on arrival as a failed job, so its id still answers."""
        now = _now()
        job_id = f"job_{uuid.uuid4().hex}"
        return self._insert(Job(job_id, filename, None, "failed", None, error, now, now))

    def _submit(self, upload: Upload) -> Job:
        now = _now()
        job_id = f"job_{uuid.uuid4().hex}"
        upload.path.replace(self._job_path(job_id))
        job = Job(job_id, upload.filename, upload.declared_type, "queued", None, None, now, now)
        self._insert(job)
        self._queue.put_nowait(job_id)
        return job

    def _check(self, upload: Upload) -> str:
        data = upload.path.read_bytes()
        check_document(data, upload.filename, upload.declared_type, self.max_unpacked_bytes)
        return document_id_of(data)

    async def accept(self, uploads: list[Upload]) -> list[tuple[Job, InvalidInput | None]]:
        """Check each upload and queue the good ones; refused ones become failed jobs.

        A file refused (too large, empty, unknown or lying type, encrypted or broken PDF, zip
        bomb, or a duplicate in the same upload) does not stop the others. Returns each
        upload's job, in order, with the reason it was refused.
        """
        accepted: list[tuple[Job, InvalidInput | None]] = []
        seen: dict[str, str] = {}
        for upload in uploads:
            try:
                if upload.error is not None:
                    raise upload.error
                document_id = await asyncio.to_thread(self._check, upload)
                if document_id in seen or upload.filename in seen.values():
                    first = seen.get(document_id, upload.filename)
                    raise InvalidInput(f"{upload.filename} duplicates {first} in this upload")
                seen[document_id] = upload.filename
            except InvalidInput as exc:
                await asyncio.to_thread(upload.path.unlink, missing_ok=True)
                job = await asyncio.to_thread(self.reject, upload.filename, str(exc))
                accepted.append((job, exc))
                continue
            accepted.append((await asyncio.to_thread(self._submit, upload), None))
        return accepted

    async def start(self) -> None:
        """Pick up jobs a stopped process left unfinished, then start the worker."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_id FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at"
            ).fetchall()
        for (job_id,) in rows:
            if self._job_path(job_id).exists():
                self._set(job_id, "queued", None, None)
                self._queue.put_nowait(job_id)
            else:
                self._set(job_id, "failed", None, "the uploaded file was lost before ingestion")
        self._worker = asyncio.create_task(self._work(), name="strata-ingest-jobs")

    @property
    def ready(self) -> bool:
        """True while the worker runs."""
        return self._worker is not None and not self._worker.done()

    async def _work(self) -> None:
        while True:
            job_id = await self._queue.get()
            await self._run(job_id)

    async def _run(self, job_id: str) -> None:
        job = await asyncio.to_thread(self.get, job_id)
        path = self._job_path(job_id)
        await asyncio.to_thread(self._set, job_id, "running", None, None)
        ingest = functools.partial(self.pipeline.ingest_file, path, job.filename, job.declared_type)
        self._current = asyncio.get_running_loop().run_in_executor(None, ingest)
        try:
            outcome = await self._current
        except Exception as exc:
            log.exception("ingest job %s failed", job_id)
            await asyncio.to_thread(self._set, job_id, "failed", None, f"ingestion failed: {exc}")
        else:
            failed = outcome.outcome == "failed"
            await asyncio.to_thread(
                self._set,
                job_id,
                "failed" if failed else "done",
                outcome.document_id,
                outcome.error if failed else None,
            )
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def close(self) -> None:
        """Stop the worker; a job cut short is picked up again on the next start."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._current is not None and not self._current.done():
            # The store and registry close after this: let the thread finish its document.
            await asyncio.wait([self._current], timeout=_SHUTDOWN_WAIT_SECONDS)
        with self._lock:
            self._db.close()
