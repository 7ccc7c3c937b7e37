"""Upload jobs as a queue in the shared database: any replica takes any job, under a lease.

A replica claims the oldest queued job, or a running one whose lease ran out (its replica
died), and renews the lease while it works. On PostgreSQL the claim is a row lock taken with
SKIP LOCKED, so replicas claiming at once take different jobs without waiting; on SQLite the
write transaction is exclusive. A job's end is written only by the lease holder, so a replica
that lost its lease (it stalled) cannot overwrite the outcome of the one that took over.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Connection, delete, insert, or_, select, update

from rag.errors import NotFound
from rag.owners import LOCAL_OWNER, Owner
from rag.storage.database import Database
from rag.storage.tables import job_uploads, jobs

JobStatus = Literal["queued", "running", "done", "failed"]

# A job whose replica died this many times is given up rather than retried for ever.
MAX_ATTEMPTS = 3


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
    owner_key: str | None = None
    """The id of the API key that uploaded the file (None: from before owners were kept)."""


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this replica holds the lease of, with the uploaded bytes to ingest."""

    job: Job
    data: bytes


_JOB_COLUMNS = (
    jobs.c.job_id,
    jobs.c.filename,
    jobs.c.declared_type,
    jobs.c.status,
    jobs.c.document_id,
    jobs.c.error,
    jobs.c.created_at,
    jobs.c.updated_at,
    jobs.c.owner_key,
)


class JobStore:
    """The jobs table and the bytes waiting in it; callers run these off the event loop."""

    def __init__(self, database: Database, lease_seconds: float) -> None:
        self._database = database
        self._lease_ms = int(lease_seconds * 1000)

    def insert(self, job: Job, data: bytes | None) -> Job:
        """Store a new job, with the bytes to ingest unless it already failed."""
        with self._database.writing() as connection:
            connection.execute(
                insert(jobs).values(
                    job_id=job.job_id,
                    filename=job.filename,
                    declared_type=job.declared_type,
                    status=job.status,
                    document_id=job.document_id,
                    error=job.error,
                    created_at=job.created_at,
                    updated_at=job.updated_at,
                    attempts=0,
                    owner_key=job.owner_key,
                )
            )
            if data is not None:
                connection.execute(insert(job_uploads).values(job_id=job.job_id, data=data))
        return job

    def get(self, job_id: str, owner: Owner = LOCAL_OWNER) -> Job:
        """The job's current state; NotFound if there is no such job that owner may see."""
        with self._database.reading() as connection:
            row = connection.execute(select(*_JOB_COLUMNS).where(jobs.c.job_id == job_id)).first()
        if row is None or not owner.may_see(row.owner_key):
            raise NotFound(f"no job {job_id!r}")
        return Job(*row)

    def claim(self, owner: str) -> ClaimedJob | None:
        """Lease the oldest job waiting (queued, or running on a lapsed lease) to owner."""
        while True:
            now_ms = _now_ms()
            with self._database.writing() as connection:
                row = connection.execute(
                    select(jobs.c.job_id, jobs.c.attempts)
                    .where(
                        or_(
                            jobs.c.status == "queued",
                            (jobs.c.status == "running") & (jobs.c.lease_expires_epoch_ms < now_ms),
                        )
                    )
                    .order_by(jobs.c.created_at)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    return None
                job_id, attempts = row
                if attempts >= MAX_ATTEMPTS:
                    self._end(
                        connection,
                        job_id,
                        "failed",
                        None,
                        f"ingestion was interrupted {attempts} times; upload the file again",
                    )
                    continue
                connection.execute(
                    update(jobs)
                    .where(jobs.c.job_id == job_id)
                    .values(
                        status="running",
                        lease_owner=owner,
                        lease_expires_epoch_ms=now_ms + self._lease_ms,
                        attempts=attempts + 1,
                        updated_at=_now(),
                    )
                )
                data = connection.execute(
                    select(job_uploads.c.data).where(job_uploads.c.job_id == job_id)
                ).scalar()
                job = Job(
                    *connection.execute(select(*_JOB_COLUMNS).where(jobs.c.job_id == job_id)).one()
                )
            if data is None:
                self.finish(job_id, owner, "failed", None, "the uploaded file was lost")
                continue
            return ClaimedJob(job, bytes(data))

    def renew(self, job_id: str, owner: str) -> bool:
        """Extend owner's lease on job_id; False if owner no longer holds it."""
        with self._database.writing() as connection:
            renewed = connection.execute(
                update(jobs)
                .where(
                    jobs.c.job_id == job_id,
                    jobs.c.lease_owner == owner,
                    jobs.c.status == "running",
                )
                .values(lease_expires_epoch_ms=_now_ms() + self._lease_ms)
            )
            return renewed.rowcount == 1

    def finish(
        self,
        job_id: str,
        owner: str,
        status: JobStatus,
        document_id: str | None,
        error: str | None,
    ) -> bool:
        """End owner's job with its outcome and drop its bytes; False if the lease was lost."""
        with self._database.writing() as connection:
            held = connection.execute(
                select(jobs.c.job_id)
                .where(
                    jobs.c.job_id == job_id,
                    jobs.c.lease_owner == owner,
                    jobs.c.status == "running",
                )
                .with_for_update()
            ).first()
            if held is None:
                return False
            self._end(connection, job_id, status, document_id, error)
            return True

    def release(self, owner: str) -> None:
        """Put owner's unfinished jobs back in the queue (the process is stopping)."""
        with self._database.writing() as connection:
            connection.execute(
                update(jobs)
                .where(jobs.c.lease_owner == owner, jobs.c.status == "running")
                .values(
                    status="queued",
                    lease_owner=None,
                    lease_expires_epoch_ms=None,
                    attempts=jobs.c.attempts - 1,
                    updated_at=_now(),
                )
            )

    @staticmethod
    def _end(
        connection: Connection,
        job_id: str,
        status: JobStatus,
        document_id: str | None,
        error: str | None,
    ) -> None:
        connection.execute(
            update(jobs)
            .where(jobs.c.job_id == job_id)
            .values(
                status=status,
                document_id=document_id,
                error=error,
                lease_owner=None,
                lease_expires_epoch_ms=None,
                updated_at=_now(),
            )
        )
        connection.execute(delete(job_uploads).where(job_uploads.c.job_id == job_id))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _now_ms() -> int:
    return int(time.time() * 1000)
