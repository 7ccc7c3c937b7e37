"""Background ingestion of uploaded files, from a queue every replica shares.

An accepted upload becomes a job row with its bytes in the shared database (rag/storage/jobs.py);
the file received from the client is a temporary file here only until then. Each process runs
a few workers that claim jobs under a lease, renew it while they ingest, and write the outcome.
A job whose process died is taken again, by any replica, when its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.files import FileOutcome, document_id_of
from ingest.loaders import check_document
from ingest.pipeline import IngestPipeline
from rag.errors import InvalidInput
from rag.owners import LOCAL_OWNER, Owner
from rag.storage.jobs import ClaimedJob, Job, JobStore

log = logging.getLogger("strata.jobs")

__all__ = ["Job", "JobRunner", "Upload"]

_SHUTDOWN_WAIT_SECONDS = 60
# How often an idle worker looks for jobs other replicas accepted.
_POLL_SECONDS = 1.0
# The sweep for abandoned upload files runs at least this often.
_MAX_SWEEP_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Upload:
    """A file received from a client, in a temporary file under the uploads folder."""

    filename: str
    path: Path
    declared_type: str | None = None
    error: InvalidInput | None = None
    """Why the file was refused while it was received (over the size limit), if it was."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class JobRunner:
    """Queues uploads, ingests jobs from the shared queue in the background, reports status."""

    def __init__(
        self,
        pipeline: IngestPipeline,
        store: JobStore,
        home: Path,
        max_unpacked_bytes: int,
        workers: int = 2,
        lease_seconds: float = 30.0,
        orphan_seconds: float = 3600.0,
    ) -> None:
        self.pipeline = pipeline
        self.store = store
        self.upload_dir = home / "uploads"
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        self.max_unpacked_bytes = max_unpacked_bytes
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._worker_count = workers
        self._renew_seconds = lease_seconds / 3
        self._wake = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Future[FileOutcome]] = set()
        self._orphan_seconds = orphan_seconds
        # Files this process is receiving or ingesting, by path, with when each was named.
        self._in_use: dict[Path, float] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def new_upload_path(self) -> Path:
        """A fresh path under the uploads folder to receive a file into."""
        path = self.upload_dir / f"{uuid.uuid4().hex}.part"
        self._in_use[path] = time.time()
        return path

    def sweep(self) -> list[Path]:
        """Delete upload files untouched for the orphan age and not in use; returns them.

        A process killed while receiving or ingesting a file leaves it behind, as does a
        request cut short between receiving and queueing its files.
        """
        now = time.time()
        removed: list[Path] = []
        for path in self.upload_dir.iterdir():
            if path in self._in_use:
                continue
            with contextlib.suppress(FileNotFoundError):
                if now - path.stat().st_mtime >= self._orphan_seconds and path.is_file():
                    path.unlink()
                    removed.append(path)
        # Forget paths whose file is gone, once nothing can be writing them any more.
        for path, named_at in list(self._in_use.items()):
            if now - named_at >= self._orphan_seconds and not path.exists():
                self._in_use.pop(path, None)
        return removed

    async def _sweep_periodically(self) -> None:
        interval = min(self._orphan_seconds / 2, _MAX_SWEEP_INTERVAL_SECONDS)
        while True:
            try:
                removed = await asyncio.to_thread(self.sweep)
            except OSError:
                log.exception("could not sweep %s", self.upload_dir)
            else:
                if removed:
                    log.info("removed %d abandoned upload file(s)", len(removed))
            await asyncio.sleep(interval)

    def get(self, job_id: str, owner: Owner = LOCAL_OWNER) -> Job:
        """The job's current state; NotFound if there is no such job that owner may see."""
        return self.store.get(job_id, owner)

    def reject(self, filename: str, error: str, owner: Owner) -> Job:
        """Record a file refused on arrival as a failed job, so its id still answers."""
        now = _now()
        job_id = f"job_{uuid.uuid4().hex}"
        job = Job(job_id, filename, None, "failed", None, error, now, now, owner.key_id)
        return self.store.insert(job, None)

    def _submit(self, upload: Upload, data: bytes, owner: Owner) -> Job:
        now = _now()
        job_id = f"job_{uuid.uuid4().hex}"
        job = Job(
            job_id,
            upload.filename,
            upload.declared_type,
            "queued",
            None,
            None,
            now,
            now,
            owner.key_id,
        )
        self.store.insert(job, data)
        upload.path.unlink(missing_ok=True)
        return job

    def _check(self, upload: Upload) -> tuple[str, bytes]:
        data = upload.path.read_bytes()
        check_document(data, upload.filename, upload.declared_type, self.max_unpacked_bytes)
        return document_id_of(data), data

    async def accept(
        self, uploads: list[Upload], owner: Owner
    ) -> list[tuple[Job, InvalidInput | None]]:
        """Check each upload and queue the good ones for owner; refused ones become failed jobs.

        A file refused (too large, empty, unknown or lying type, encrypted or broken PDF, zip
        bomb, or a duplicate in the same upload) does not stop the others. Returns each
        upload's job, in order, with the reason it was refused. A job returned is durable:
        any replica finishes it, even if this one dies now.
        """
        accepted: list[tuple[Job, InvalidInput | None]] = []
        seen: dict[str, str] = {}
        for upload in uploads:
            try:
                if upload.error is not None:
                    raise upload.error
                document_id, data = await asyncio.to_thread(self._check, upload)
                if document_id in seen or upload.filename in seen.values():
                    first = seen.get(document_id, upload.filename)
                    raise InvalidInput(f"{upload.filename} duplicates {first} in this upload")
                seen[document_id] = upload.filename
            except InvalidInput as exc:
                await asyncio.to_thread(upload.path.unlink, missing_ok=True)
                job = await asyncio.to_thread(self.reject, upload.filename, str(exc), owner)
                accepted.append((job, exc))
                continue
            accepted.append((await asyncio.to_thread(self._submit, upload, data, owner), None))
        self._wake.set()
        return accepted

    async def start(self) -> None:
        """Start the workers; they take queued jobs and those whose process died."""
        self._workers = [
            asyncio.create_task(self._work(), name=f"strata-ingest-jobs-{n}")
            for n in range(self._worker_count)
        ]
        self._sweeper = asyncio.create_task(self._sweep_periodically(), name="strata-upload-sweep")

    @property
    def ready(self) -> bool:
        """True while the workers run."""
        return bool(self._workers) and not any(w.done() for w in self._workers)

    async def _work(self) -> None:
        while True:
            try:
                claimed = await asyncio.to_thread(self.store.claim, self.owner)
            except Exception:
                log.exception("could not take a job from the queue")
                claimed = None
            if claimed is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), _POLL_SECONDS)
                continue
            # Let the other workers look too: there may be more than one job waiting.
            self._wake.set()
            await self._run(claimed)

    async def _run(self, claimed: ClaimedJob) -> None:
        job = claimed.job
        path = self.upload_dir / f"{job.job_id}.{uuid.uuid4().hex[:8]}"
        self._in_use[path] = time.time()
        await asyncio.to_thread(path.write_bytes, claimed.data)
        ingest = functools.partial(self.pipeline.ingest_file, path, job.filename, job.declared_type)
        running = asyncio.get_running_loop().run_in_executor(None, ingest)
        self._running.add(running)
        renewing = asyncio.create_task(self._renew(job.job_id))
        try:
            outcome = await asyncio.shield(running)
        except Exception as exc:
            log.exception("ingest job %s failed", job.job_id)
            await asyncio.to_thread(
                self.store.finish,
                job.job_id,
                self.owner,
                "failed",
                None,
                f"ingestion failed: {exc}",
            )
        else:
            failed = outcome.outcome == "failed"
            await asyncio.to_thread(
                self.store.finish,
                job.job_id,
                self.owner,
                "failed" if failed else "done",
                outcome.document_id,
                outcome.error if failed else None,
            )
        finally:
            renewing.cancel()
            self._running.discard(running)
            if running.done():
                await asyncio.to_thread(path.unlink, missing_ok=True)
                self._in_use.pop(path, None)
            else:
                running.add_done_callback(lambda _: self._forget(path))

    def _forget(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._in_use.pop(path, None)

    async def _renew(self, job_id: str) -> None:
        while True:
            await asyncio.sleep(self._renew_seconds)
            try:
                held = await asyncio.to_thread(self.store.renew, job_id, self.owner)
            except Exception:
                log.exception("could not renew the lease of job %s", job_id)
                continue
            if not held:
                log.warning("job %s was taken over by another replica", job_id)
                return

    async def close(self) -> None:
        """Stop the workers; a job cut short goes back to the queue for any replica."""
        tasks = [*self._workers, *([self._sweeper] if self._sweeper else [])]
        for worker in tasks:
            worker.cancel()
        for worker in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if self._running:
            # The store and registry close after this: let the threads finish their documents.
            await asyncio.wait(self._running, timeout=_SHUTDOWN_WAIT_SECONDS)
        await asyncio.to_thread(self.store.release, self.owner)
