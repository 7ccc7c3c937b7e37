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
    Connection,
    Float,
    Integer,
    String,
    and_,
    bindparam,
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

_RUNS = cache_reuse_runs.c
_MARKS = cache_marks.c
_BLOCKS = warm_blocks.c
# The planner runs a score of these per request: built once, bound per call, so a plan costs
# the database's time rather than SQLAlchemy's statement building.
_KIND = bindparam("kind", type_=String)
_KEY = bindparam("key", type_=String)
_SINCE = bindparam("since", type_=Float)
_RUN_OF = and_(_RUNS.kind == _KIND, _RUNS.key == _KEY, _RUNS.last_used_at >= _SINCE)
_MARK = select(_MARKS.ttl, _MARKS.sent_at).where(_MARKS.key == _KEY)
_FORGET_MARKS = delete(cache_marks).where(_MARKS.expires_at < bindparam("sent_at"))
_FORGET_BLOCKS = delete(warm_blocks).where(_BLOCKS.key.not_in(select(_MARKS.key)))
_LIVE_BLOCKS = (
    select(_BLOCKS.chunk_ids, _BLOCKS.chunks, _BLOCKS.tokens)
    .join(cache_marks, _MARKS.key == _BLOCKS.key)
    .where(_BLOCKS.scope == bindparam("scope"), _MARKS.expires_at > bindparam("after"))
    .order_by(_MARKS.expires_at.desc())
    .limit(bindparam("limit", type_=Integer))
)
_GOING_RUN = select(_RUNS.id, _RUNS.uses).where(_RUN_OF).order_by(_RUNS.last_used_at.desc())
_RUNS_REACHING = select(
    func.count(), func.coalesce(func.sum(_RUNS.uses - bindparam("uses")), 0)
).where(_RUNS.kind == _KIND, _RUNS.uses >= bindparam("uses"), not_(_RUN_OF))
_RUN_LENGTHS = (
    select(_RUNS.uses, func.count())
    .where(_RUNS.kind == _KIND, _RUNS.uses >= bindparam("at_least"), not_(_RUN_OF))
    .group_by(_RUNS.uses)
)
_LAST_RUN = (
    select(_RUNS.uses)
    .where(_RUNS.kind == _KIND, _RUNS.key == _KEY, _RUNS.last_used_at < _SINCE)
    .order_by(_RUNS.last_used_at.desc())
    .limit(1)
)
_NEW_RUN = insert(cache_reuse_runs)
_GO_ON = (
    update(cache_reuse_runs)
    .where(_RUNS.id == bindparam("run_id"))
    .values(last_used_at=bindparam("now"), uses=_RUNS.uses + bindparam("added"))
)
_FORGET_RUNS = delete(cache_reuse_runs).where(
    _RUNS.id.in_(
        select(_RUNS.id)
        .where(_RUNS.kind == _KIND)
        .order_by(_RUNS.last_used_at.desc(), _RUNS.id.desc())
        .offset(bindparam("window", type_=Integer))
    )
)


class TrafficSession:
    """The planner's marks and reuse runs within one transaction."""

    def __init__(self, connection: Connection, window: int) -> None:
        self._connection = connection
        self._window = window

    def mark(self, key: str) -> tuple[str, float] | None:
        """The TTL and time of the last mark sent on key, if one was kept."""
        row = self._connection.execute(_MARK, {"key": key}).first()
        return None if row is None else (str(row.ttl), float(row.sent_at))

    def record_mark(self, key: str, ttl: str, sent_at: float, expires_at: float) -> None:
        """Remember a mark sent on key; marks expired by now are forgotten."""
        self._connection.execute(_FORGET_MARKS, {"sent_at": sent_at})
        row = {"key": key, "ttl": ttl, "sent_at": sent_at, "expires_at": expires_at}
        upsert(self._connection, cache_marks, row)

    def keep_block(self, key: str, scope: str, chunk_ids: str, chunks: str, tokens: int) -> None:
        """Offer the block marked under key; blocks whose marks were forgotten go."""
        self._connection.execute(_FORGET_BLOCKS)
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
        rows = self._connection.execute(
            _LIVE_BLOCKS, {"scope": scope, "after": after, "limit": limit}
        ).all()
        return [(str(row.chunk_ids), str(row.chunks), int(row.tokens)) for row in rows]

    def run_uses(self, kind: str, key: str, since: float) -> int:
        """Uses in key's run, if its last use was at or after since (else 0: no run going)."""
        row = self._connection.execute(
            _GOING_RUN, {"kind": kind, "key": key, "since": since}
        ).first()
        return 0 if row is None else int(row.uses)

    def runs_reaching(self, kind: str, uses: int, key: str, since: float) -> tuple[int, int]:
        """How many kept runs reached uses, and their uses beyond it, bar key's run going."""
        count, beyond = self._connection.execute(
            _RUNS_REACHING, {"kind": kind, "key": key, "since": since, "uses": uses}
        ).one()
        return int(count), int(beyond)

    def run_lengths(self, kind: str, at_least: int, key: str, since: float) -> dict[int, int]:
        """How many kept runs have each number of uses from at_least up, bar key's run going.

        Runs still going count by the uses they have reached so far, as in runs_reaching.
        """
        rows = self._connection.execute(
            _RUN_LENGTHS, {"kind": kind, "key": key, "since": since, "at_least": at_least}
        ).all()
        return {int(uses): int(count) for uses, count in rows}

    def last_run_uses(self, kind: str, key: str, since: float) -> int:
        """Uses in key's last finished run, one last used before since (0 if none is kept)."""
        uses = self._connection.execute(
            _LAST_RUN, {"kind": kind, "key": key, "since": since}
        ).scalar()
        return 0 if uses is None else int(uses)

    def record_use(
        self, kind: str, key: str, now: float, since: float, counted: bool = True
    ) -> None:
        """A use of key now: its run goes on if its last use was at or after since.

        Otherwise a new run starts. counted=False moves a going run's last use without adding
        to its uses. Only the window most recently used runs of a kind are kept.
        """
        going = self._connection.execute(
            _GOING_RUN, {"kind": kind, "key": key, "since": since}
        ).first()
        if going is None:
            row = {"kind": kind, "key": key, "last_used_at": now, "uses": 1}
            self._connection.execute(_NEW_RUN, row)
        else:
            added = 1 if counted else 0
            self._connection.execute(_GO_ON, {"run_id": going.id, "now": now, "added": added})
        self._connection.execute(_FORGET_RUNS, {"kind": kind, "window": self._window})


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
