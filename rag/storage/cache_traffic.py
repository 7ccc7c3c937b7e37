"""The cache planner's memory in the shared database, so every replica plans from one traffic.

It holds the marks the planner sent (key, TTL, when), the documents blocks behind the marked
keys that other questions may send again, and its reuse runs: per kind of statistics, the uses
of each key, each within the kind's TTL of the one before
(rag/cache_planner.py owns the rules and the statistics; this module only keeps the rows).
Times are seconds on the planner's clock: wall-clock time in a server, so that replicas
agree; a simulated clock in the benchmarks.

A plan reads and writes in one write transaction; on PostgreSQL it first takes one advisory
lock, so plans take turns across replicas and two of them planning the same key at once never
both find it cold. A plan takes a few milliseconds, so the turns are short.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    func,
    insert,
    not_,
    select,
    text,
    update,
)

from rag.storage.database import Database, upsert
from rag.storage.tables import cache_marks, cache_reuse_runs, warm_blocks

# Any constant will do: the plans of every replica take turns on it.
_PLANNING_LOCK_ID = 0x5354524143


class TrafficSession:
    """The planner's marks and reuse runs within one transaction."""

    def __init__(self, connection: Connection, window: int) -> None:
        self._connection = connection
        self._window = window

    def mark(self, key: str) -> tuple[str, float] | None:
        """The TTL and time of the last mark sent on key, if one was kept."""
        row = self._connection.execute(
            select(cache_marks.c.ttl, cache_marks.c.sent_at).where(cache_marks.c.key == key)
        ).first()
        return None if row is None else (str(row.ttl), float(row.sent_at))

    def record_mark(self, key: str, ttl: str, sent_at: float, expires_at: float) -> None:
        """Remember a mark sent on key; marks expired by now are forgotten."""
        self._connection.execute(delete(cache_marks).where(cache_marks.c.expires_at < sent_at))
        row = {"key": key, "ttl": ttl, "sent_at": sent_at, "expires_at": expires_at}
        upsert(self._connection, cache_marks, row)

    def keep_block(self, key: str, scope: str, chunk_ids: str, chunks: str, tokens: int) -> None:
        """Offer the block marked under key; blocks whose marks were forgotten go."""
        self._connection.execute(
            delete(warm_blocks).where(warm_blocks.c.key.not_in(select(cache_marks.c.key)))
        )
        row = {
            "key": key,
            "scope": scope,
            "chunk_ids": chunk_ids,
            "chunks": chunks,
            "tokens": tokens,
        }
        upsert(self._connection, warm_blocks, row)

    def live_blocks(self, scope: str, after: float, limit: int) -> list[tuple[str, str, int]]:
        """Chunk ids, chunks and tokens of scope's blocks whose entries outlive after."""
        blocks = warm_blocks.c
        rows = self._connection.execute(
            select(blocks.chunk_ids, blocks.chunks, blocks.tokens)
            .join(cache_marks, cache_marks.c.key == blocks.key)
            .where(blocks.scope == scope, cache_marks.c.expires_at > after)
            .order_by(cache_marks.c.expires_at.desc())
            .limit(limit)
        ).all()
        return [(str(row.chunk_ids), str(row.chunks), int(row.tokens)) for row in rows]

    def run_uses(self, kind: str, key: str, since: float) -> int:
        """Uses in key's run, if its last use was at or after since (else 0: no run going)."""
        uses = self._connection.execute(
            select(cache_reuse_runs.c.uses)
            .where(_run_of(kind, key, since))
            .order_by(cache_reuse_runs.c.last_used_at.desc())
            .limit(1)
        ).scalar()
        return 0 if uses is None else int(uses)

    def runs_reaching(self, kind: str, uses: int, key: str, since: float) -> tuple[int, int]:
        """How many kept runs reached uses, and their uses beyond it, bar key's run going."""
        runs = cache_reuse_runs.c
        count, beyond = self._connection.execute(
            select(func.count(), func.coalesce(func.sum(runs.uses - uses), 0)).where(
                runs.kind == kind,
                runs.uses >= uses,
                not_(_run_of(kind, key, since)),
            )
        ).one()
        return int(count), int(beyond)

    def run_lengths(self, kind: str, at_least: int, key: str, since: float) -> dict[int, int]:
        """How many kept runs have each number of uses from at_least up, bar key's run going.

        Runs still going count by the uses they have reached so far, as in runs_reaching.
        """
        runs = cache_reuse_runs.c
        rows = self._connection.execute(
            select(runs.uses, func.count())
            .where(
                runs.kind == kind,
                runs.uses >= at_least,
                not_(_run_of(kind, key, since)),
            )
            .group_by(runs.uses)
        ).all()
        return {int(uses): int(count) for uses, count in rows}

    def last_run_uses(self, kind: str, key: str, since: float) -> int:
        """Uses in key's last finished run, one last used before since (0 if none is kept)."""
        runs = cache_reuse_runs.c
        uses = self._connection.execute(
            select(runs.uses)
            .where(runs.kind == kind, runs.key == key, runs.last_used_at < since)
            .order_by(runs.last_used_at.desc())
            .limit(1)
        ).scalar()
        return 0 if uses is None else int(uses)

    def record_use(
        self, kind: str, key: str, now: float, since: float, counted: bool = True
    ) -> None:
        """A use of key now: its run goes on if its last use was at or after since.

        Otherwise a new run starts. counted=False moves a going run's last use without adding
        to its uses. Only the window most recently used runs of a kind are kept.
        """
        runs = cache_reuse_runs.c
        going = self._connection.execute(
            select(runs.id).where(_run_of(kind, key, since)).order_by(runs.last_used_at.desc())
        ).first()
        if going is None:
            row = {"kind": kind, "key": key, "last_used_at": now, "uses": 1}
            self._connection.execute(insert(cache_reuse_runs).values(row))
        else:
            self._connection.execute(
                update(cache_reuse_runs)
                .where(runs.id == going.id)
                .values(last_used_at=now, uses=runs.uses + (1 if counted else 0))
            )
        older = (
            select(runs.id)
            .where(runs.kind == kind)
            .order_by(runs.last_used_at.desc(), runs.id.desc())
            .offset(self._window)
        )
        self._connection.execute(delete(cache_reuse_runs).where(runs.id.in_(older)))


class CacheTraffic:
    """Opens the planner's sessions on the shared database."""

    def __init__(self, database: Database, window: int = 1000) -> None:
        self._database = database
        self._window = window

    @contextmanager
    def planning(self) -> Iterator[TrafficSession]:
        """A session that decides and records a plan: committed when the block ends."""
        with self._database.writing() as connection:
            if self._database.is_postgresql:
                lock = text("SELECT pg_advisory_xact_lock(:id)")
                connection.execute(lock, {"id": _PLANNING_LOCK_ID})
            yield TrafficSession(connection, self._window)

    @contextmanager
    def reading(self) -> Iterator[TrafficSession]:
        """A session that only reads (a dry run's plan): it must record nothing."""
        with self._database.reading() as connection:
            yield TrafficSession(connection, self._window)


def _run_of(kind: str, key: str, since: float) -> ColumnElement[bool]:
    runs = cache_reuse_runs.c
    return and_(runs.kind == kind, runs.key == key, runs.last_used_at >= since)
