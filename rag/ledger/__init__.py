"""The usage ledger: one row per Claude call, priced, with what caching saved.

Its table lives in the database every store shares (rag/storage/): SQLite under the state
directory by default, PostgreSQL when given its URL. record() never waits for the database:
rows go to a background writer,
and flush() or close() waits until they are written, so a stream cut short still gets its row.
Every report flushes first, so it includes every call recorded before it was asked for.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from rag.errors import InvalidInput
from rag.ledger import queries
from rag.ledger.reports import (
    LatencyHistogram,
    LayerStats,
    LedgerRow,
    MissReason,
    Summary,
    TimelinePoint,
    Totals,
    WastedWrites,
)
from rag.ledger.rows import build_row, epoch_ms
from rag.ledger.tables import calls
from rag.ledger.writer import RowWriter
from rag.owners import acting_key
from rag.pricing import PriceTable, default_price_table
from rag.storage import Database, database_url
from rag.types import CallRecord

__all__ = [
    "GROUP_NAMES",
    "LatencyHistogram",
    "LayerStats",
    "Ledger",
    "LedgerRow",
    "MissReason",
    "Summary",
    "TimelinePoint",
    "Totals",
    "WastedWrites",
    "database_url",
]

_FLUSH_SECONDS = 30.0
GROUP_NAMES = tuple(queries.GROUPS)


class Ledger:
    """Records calls in the background and answers the savings queries."""

    def __init__(self, database: Database, prices: PriceTable | None = None) -> None:
        """Record into an open database (which the caller closes after the ledger)."""
        self._engine = database.engine
        self._prices = prices or default_price_table()
        self._writer = RowWriter(database.writer)
        self._owned: Database | None = None

    @classmethod
    def open(cls, url: str, prices: PriceTable | None = None) -> Ledger:
        """Open the database at url on its own, for a command that needs only the ledger."""
        database = Database.open(url)
        ledger = cls(database, prices)
        ledger._owned = database
        return ledger

    @property
    def healthy(self) -> bool:
        """True while rows are being written."""
        return self._writer.healthy

    def record(self, record: CallRecord) -> None:
        """Queue one call's row; returns at once, whatever the database is doing.

        A record that names no key is the acting key's, when a request made the call.
        """
        if record.owner_key is None and (key := acting_key()) is not None:
            record = replace(record, owner_key=key)
        self._writer.put(build_row(record, self._prices))

    def spent_since(self, owner_key: str, since: datetime) -> Decimal:
        """What owner_key's priced calls since since cost, in USD (unpriced calls count 0)."""
        where = self._period(since, None) & (calls.c.owner_key == owner_key)
        with self._engine.connect() as connection:
            total = connection.execute(select(func.sum(calls.c.cost_usd)).where(where)).scalar()
        return Decimal(str(total or 0))

    def flush(self, timeout_seconds: float = _FLUSH_SECONDS) -> None:
        """Wait until every recorded call is in the database (LedgerUnavailable if not)."""
        self._writer.flush(timeout_seconds)

    def close(self, timeout_seconds: float = _FLUSH_SECONDS) -> None:
        """Write what is queued, stop the writer and release the connections."""
        try:
            self._writer.close(timeout_seconds)
        finally:
            if self._owned is not None:
                self._owned.close()

    def summary(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        group_by: Iterable[str] = ("feature", "model"),
    ) -> Summary:
        """Totals for [since, until), grouped by each of group_by (feature, model, day, layer)."""
        where = self._period(since, until)
        names = list(dict.fromkeys(group_by))
        unknown = sorted(set(names) - set(GROUP_NAMES))
        if unknown:
            raise InvalidInput(
                f"unknown grouping {', '.join(unknown)}; use {', '.join(GROUP_NAMES)}"
            )
        # One scan grouped by every key; the few hundred groups are rolled up here.
        keys = list(queries.GROUPS)
        with self._engine.connect() as connection:
            rows = queries.grouped_totals(connection, [queries.GROUPS[k] for k in keys], where)
            wasted = queries.wasted_writes(connection, where, _now_ms())
        totals = Totals()
        groups: dict[str, dict[str, Totals]] = {name: {} for name in names}
        for values, sums in rows:
            totals += sums
            for name in names:
                label = _group_label(name, values[keys.index(name)])
                group = groups[name]
                group[label] = group.get(label, Totals()) + sums
        ordered = {name: dict(sorted(group.items())) for name, group in groups.items()}
        return Summary(since, until, totals, wasted, ordered)

    def requests(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        since: datetime | None = None,
        until: datetime | None = None,
        feature: str | None = None,
        model: str | None = None,
        most_expensive: bool = False,
    ) -> tuple[list[LedgerRow], int]:
        """One page of recorded calls, newest (or most expensive) first, and how many match."""
        where = self._period(since, until)
        if feature is not None:
            where = where & (calls.c.feature == feature)
        if model is not None:
            where = where & (calls.c.model == model)
        with self._engine.connect() as connection:
            page = queries.rows(
                connection, where, limit=limit, offset=offset, most_expensive=most_expensive
            )
            return page, queries.count(connection, where)

    def layer_stats(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[LayerStats]:
        """Hit rate and saving of the answer cache and of each prompt layer."""
        where = self._period(since, until)
        with self._engine.connect() as connection:
            return queries.layer_stats(connection, where)

    def miss_reasons(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[MissReason]:
        """Why caches missed, with the tokens and money each reason cost."""
        where = self._period(since, until)
        with self._engine.connect() as connection:
            return queries.miss_reasons(connection, where)

    def timeline(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        bucket_seconds: int | None = None,
    ) -> tuple[int, list[TimelinePoint]]:
        """Spend and savings over time, in buckets sized to the period unless given."""
        where = self._period(since, until)
        with self._engine.connect() as connection:
            if bucket_seconds is None:
                bucket_seconds = _bucket_for(connection, since, until)
            return bucket_seconds, queries.timeline(connection, where, bucket_seconds)

    def totals_by_feature_and_model(self) -> list[tuple[tuple[Any, ...], Totals]]:
        """All-time sums per (feature, model), for the Prometheus counters."""
        where = self._period(None, None)
        keys = [calls.c.feature, calls.c.model]
        with self._engine.connect() as connection:
            return queries.grouped_totals(connection, keys, where)

    def latency_histogram(
        self, bounds_ms: tuple[float, ...], first_token: bool = False
    ) -> LatencyHistogram:
        """All-time cumulative latency (or time-to-first-token) counts per feature."""
        where = self._period(None, None)
        with self._engine.connect() as connection:
            return queries.latency_histogram(connection, where, bounds_ms, first_token)

    def _period(self, since: datetime | None, until: datetime | None) -> Any:
        self.flush()
        return queries.period(
            epoch_ms(since) if since else None, epoch_ms(until) if until else None
        )


def _group_label(name: str, value: Any) -> str:
    return queries.day_label(int(value)) if name == "day" else str(value)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _bucket_for(connection: Connection, since: datetime | None, until: datetime | None) -> int:
    """Buckets sized to the span the data covers: minutes for a fresh ledger, days for months."""
    first_ms = connection.execute(select(func.min(calls.c.started_epoch_ms))).scalar()
    if since is not None:
        first_ms = max(first_ms or 0, epoch_ms(since))
    span_s = ((epoch_ms(until) if until else _now_ms()) - (first_ms or _now_ms())) / 1000
    if span_s <= 6 * 3600:
        return 300
    if span_s <= 4 * 86_400:
        return 3600
    return 86_400
