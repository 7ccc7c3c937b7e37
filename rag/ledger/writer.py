"""The ledger's background writer: callers enqueue rows and return at once; one thread inserts.

A database that is down or locked (OperationalError) is retried with backoff and the rows stay
queued, in order; any other database error is a bug: the writer stops and every later call
raises LedgerUnavailable carrying it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, insert, select, update
from sqlalchemy.exc import OperationalError

from rag.errors import LedgerUnavailable
from rag.ledger.tables import calls

log = logging.getLogger("strata.ledger")

_BATCH_ROWS = 500
_FIRST_BACKOFF_SECONDS = 0.05
_MAX_BACKOFF_SECONDS = 5.0


class RowWriter:
    """Inserts queued rows in batches on one daemon thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._rows: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._closing = False
        self._failure: BaseException | None = None
        self._last_error: OperationalError | None = None
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    @property
    def healthy(self) -> bool:
        """True while the writer runs and its last write succeeded."""
        with self._cond:
            return self._thread.is_alive() and self._failure is None and self._last_error is None

    def put(self, row: dict[str, Any]) -> None:
        """Queue row for insertion; never waits for the database."""
        with self._cond:
            self._raise_if_failed()
            if self._closing:
                raise LedgerUnavailable("the ledger is closed")
            self._rows.append(row)
            self._cond.notify_all()

    def flush(self, timeout_seconds: float) -> None:
        """Wait until every queued row is in the database."""
        deadline = time.monotonic() + timeout_seconds
        with self._cond:
            while self._rows and self._failure is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LedgerUnavailable(
                        f"{len(self._rows)} ledger rows not written after {timeout_seconds:g}s"
                        + (f": {self._last_error}" if self._last_error else "")
                    )
                self._cond.wait(remaining)
            self._raise_if_failed()

    def close(self, timeout_seconds: float) -> None:
        """Write what is queued, then stop the thread."""
        try:
            self.flush(timeout_seconds)
        finally:
            with self._cond:
                self._closing = True
                self._cond.notify_all()
            self._thread.join(timeout_seconds)

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise LedgerUnavailable(f"the ledger writer stopped: {self._failure}")

    def _run(self) -> None:
        backoff = _FIRST_BACKOFF_SECONDS
        while True:
            with self._cond:
                while not self._rows and not self._closing:
                    self._cond.wait()
                if not self._rows or (self._closing and self._last_error is not None):
                    return
                batch = self._rows[:_BATCH_ROWS]
            try:
                with self._engine.begin() as connection:
                    write_rows(connection, batch)
            except OperationalError as exc:
                log.warning("ledger write failed, retrying in %.2fs: %s", backoff, exc)
                with self._cond:
                    self._last_error = exc
                    self._cond.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
                continue
            except BaseException as exc:
                log.exception("ledger writer stopped; %d rows unwritten", len(self._rows))
                with self._cond:
                    self._failure = exc
                    self._cond.notify_all()
                return
            backoff = _FIRST_BACKOFF_SECONDS
            with self._cond:
                del self._rows[: len(batch)]
                self._last_error = None
                self._cond.notify_all()


def write_rows(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert rows, keeping the cache-write read-back counts up to date.

    A call's cache write counts as read back when a later call on the same model, started
    before the write expired, read at least into the written span: its read-back tokens are
    how far the longest such read reached into the span. A write whose prefix is known (its
    fingerprint) is read back only by a call whose prompt holds that same prefix; a read of an
    unrelated prefix, however long, credits nothing. Calls finish out of order, so both
    directions are checked: a new write looks at the reads already stored, a new read credits
    the live writes before it. Rows without writes go in with one executemany.
    """
    plain = [row for row in rows if row["cache_write_expires_epoch_ms"] is None]
    if plain:
        connection.execute(insert(calls), plain)
    for row in rows:
        if row["cache_write_expires_epoch_ms"] is not None:
            read_back = _read_back_so_far(connection, row)
            connection.execute(
                insert(calls).values({**row, "cache_write_read_back_tokens": read_back})
            )
    for row in rows:
        if row["cache_read_tokens"] > 0:
            _credit_earlier_writes(connection, row)


def _read_back_so_far(connection: Connection, row: dict[str, Any]) -> int:
    same_prefix = (
        calls.c.cache_prefix_fingerprints.contains(row["cache_write_fingerprint"])
        if row["cache_write_fingerprint"]
        else calls.c.cache_prefix_fingerprints.is_(None)
    )
    longest_read = connection.execute(
        select(func.max(calls.c.cache_read_tokens)).where(
            calls.c.model == row["model"],
            calls.c.started_epoch_ms > row["started_epoch_ms"],
            calls.c.started_epoch_ms <= row["cache_write_expires_epoch_ms"],
            calls.c.cache_read_tokens > row["cache_read_tokens"],
            same_prefix,
        )
    ).scalar()
    if longest_read is None:
        return 0
    written = row["cache_write_5m_tokens"] + row["cache_write_1h_tokens"]
    return int(min(longest_read - row["cache_read_tokens"], written))


def _credit_earlier_writes(connection: Connection, row: dict[str, Any]) -> None:
    read = row["cache_read_tokens"]
    written = calls.c.cache_write_5m_tokens + calls.c.cache_write_1h_tokens
    reached = case(
        (calls.c.cache_read_tokens + written < read, written),
        else_=read - calls.c.cache_read_tokens,
    )
    fingerprints = (row["cache_prefix_fingerprints"] or "").split()
    same_prefix = (
        calls.c.cache_write_fingerprint.in_(fingerprints)
        if fingerprints
        else calls.c.cache_write_fingerprint.is_(None)
    )
    connection.execute(
        update(calls)
        .where(
            and_(
                same_prefix,
                calls.c.model == row["model"],
                calls.c.started_epoch_ms < row["started_epoch_ms"],
                calls.c.cache_write_expires_epoch_ms >= row["started_epoch_ms"],
                calls.c.cache_read_tokens < read,
                calls.c.cache_write_read_back_tokens < written,
                calls.c.cache_write_read_back_tokens < reached,
            )
        )
        .values(cache_write_read_back_tokens=reached)
    )
