"""The ledger's aggregate queries: every sum is done by the database, never row by row here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, select, true

from rag.ledger.reports import (
    LatencyHistogram,
    LayerStats,
    LedgerRow,
    MissReason,
    TimelinePoint,
    Totals,
    WastedWrites,
)
from rag.ledger.tables import calls
from rag.types import CacheLayer, Feature

c = calls.c
_DAY_MS = 86_400_000
_LAYER_RANK = case(
    (c.layer_hit == CacheLayer.SYSTEM.value, 1),
    (c.layer_hit == CacheLayer.DOCUMENTS.value, 2),
    (c.layer_hit == CacheLayer.CONVERSATION.value, 3),
    else_=0,
)
_PROMPT_LAYERS = (
    (CacheLayer.SYSTEM, 1, c.system_prefix_tokens, c.saved_system_usd),
    (CacheLayer.DOCUMENTS, 2, c.documents_prefix_tokens, c.saved_documents_usd),
    (CacheLayer.CONVERSATION, 3, c.conversation_prefix_tokens, c.saved_conversation_usd),
)
_ANSWER_CACHED_FEATURES = (Feature.ASK.value, Feature.ASK_STREAM.value)
_WRITTEN = c.cache_write_5m_tokens + c.cache_write_1h_tokens
GROUPS: dict[str, ColumnElement[Any]] = {
    "feature": c.feature,
    "model": c.model,
    "layer": c.layer_hit,
    "day": c.started_epoch_ms // _DAY_MS,
    "key": c.owner_key,
}


def period(since_ms: int | None, until_ms: int | None) -> ColumnElement[bool]:
    """Rows started in [since, until)."""
    clauses: list[ColumnElement[bool]] = [true()]
    if since_ms is not None:
        clauses.append(c.started_epoch_ms >= since_ms)
    if until_ms is not None:
        clauses.append(c.started_epoch_ms < until_ms)
    return and_(*clauses)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(column), 0)


_TOTAL_COLUMNS: tuple[ColumnElement[Any], ...] = (
    func.count(),
    _count_if(c.price_source == "unpriced"),
    _sum(c.input_tokens),
    _sum(c.cache_write_5m_tokens),
    _sum(c.cache_write_1h_tokens),
    _sum(c.cache_read_tokens),
    _sum(c.output_tokens),
    _sum(c.cost_usd),
    _sum(c.cost_without_cache_usd),
    _sum(c.saved_usd),
    _count_if(c.layer_hit == CacheLayer.ANSWER.value),
    _sum(c.avoided_cost_usd),
    _count_if(c.routed_from_model.is_not(None)),
    _sum(c.routing_saved_usd),
    _count_if(c.layer_hit == CacheLayer.SEMANTIC.value),
    _sum(case((c.layer_hit == CacheLayer.SEMANTIC.value, c.avoided_cost_usd), else_=0)),
    _count_if(c.semantic_audit_agreed.is_not(None)),
    _count_if(c.semantic_audit_agreed.is_(False)),
)


def _totals(values: Sequence[Any]) -> Totals:
    ints = [int(v) for v in values[:7]]
    return Totals(
        calls=ints[0],
        unpriced_calls=ints[1],
        input_tokens=ints[2],
        cache_creation_5m_input_tokens=ints[3],
        cache_creation_1h_input_tokens=ints[4],
        cache_read_input_tokens=ints[5],
        output_tokens=ints[6],
        cost_usd=float(values[7]),
        cost_without_cache_usd=float(values[8]),
        saved_usd=float(values[9]),
        answer_cache_hits=int(values[10]),
        avoided_cost_usd=float(values[11]),
        routed_calls=int(values[12]),
        routing_saved_usd=float(values[13]),
        semantic_cache_hits=int(values[14]),
        semantic_avoided_cost_usd=float(values[15]),
        semantic_audits=int(values[16]),
        semantic_audit_disagreements=int(values[17]),
    )


def totals(connection: Connection, where: ColumnElement[bool]) -> Totals:
    """Sums over the rows matching where."""
    query = select(*_TOTAL_COLUMNS).select_from(calls).where(where)
    return _totals(connection.execute(query).one())


def grouped_totals(
    connection: Connection, keys: Sequence[ColumnElement[Any]], where: ColumnElement[bool]
) -> list[tuple[tuple[Any, ...], Totals]]:
    """Sums per distinct value of keys, ordered by those values."""
    width = len(keys)
    query = select(*keys, *_TOTAL_COLUMNS).where(where).group_by(*keys).order_by(*keys)
    return [(tuple(row[:width]), _totals(row[width:])) for row in connection.execute(query)]


def day_label(bucket: int) -> str:
    """The UTC date of a day bucket from GROUPS['day']."""
    return datetime.fromtimestamp(bucket * _DAY_MS / 1000, UTC).date().isoformat()


def wasted_writes(connection: Connection, where: ColumnElement[bool], now_ms: int) -> WastedWrites:
    """Written tokens no later call read back before they expired, and their write premium."""
    unread = _WRITTEN - c.cache_write_read_back_tokens
    expired = and_(c.cache_write_expires_epoch_ms < now_ms, unread > 0)
    live = c.cache_write_expires_epoch_ms >= now_ms
    row = connection.execute(
        select(
            _count_if(expired),
            _sum(case((expired, unread), else_=0)),
            _sum(case((expired, c.cache_write_premium_usd * unread / _WRITTEN), else_=0)),
            _sum(case((live, unread), else_=0)),
        ).where(where, c.cache_write_expires_epoch_ms.is_not(None))
    ).one()
    return WastedWrites(int(row[0]), int(row[1]), float(row[2]), int(row[3]))


def layer_stats(connection: Connection, where: ColumnElement[bool]) -> list[LayerStats]:
    """Per layer: calls that carried it, calls it served, and the money it saved."""
    is_answer = c.layer_hit == CacheLayer.ANSWER.value
    is_semantic = c.layer_hit == CacheLayer.SEMANTIC.value
    asked = c.feature.in_(_ANSWER_CACHED_FEATURES)
    columns: list[ColumnElement[Any]] = [
        _count_if(asked),
        _count_if(is_answer),
        _sum(case((is_answer, c.saved_usd), else_=0)),
        # The semantic tier sits behind the exact one: it sees the asks that missed it.
        _count_if(asked & ~is_answer),
        _count_if(is_semantic),
        _sum(case((is_semantic, c.saved_usd), else_=0)),
    ]
    is_answer = is_answer | is_semantic
    for _, rank, prefix, saved in _PROMPT_LAYERS:
        columns += [
            _count_if(and_(~is_answer, (prefix > 0) | (rank <= _LAYER_RANK))),
            _count_if(rank <= _LAYER_RANK),
            _sum(saved),
        ]
    row = connection.execute(select(*columns).where(where)).one()
    stats = [
        LayerStats(CacheLayer.ANSWER.value, int(row[0]), int(row[1]), float(row[2])),
        LayerStats(CacheLayer.SEMANTIC.value, int(row[3]), int(row[4]), float(row[5])),
    ]
    for index, (layer, _, _, _) in enumerate(_PROMPT_LAYERS):
        eligible, hits, saved_usd = row[6 + 3 * index : 9 + 3 * index]
        stats.append(LayerStats(layer.value, int(eligible), int(hits), float(saved_usd)))
    return stats


def miss_reasons(connection: Connection, where: ColumnElement[bool]) -> list[MissReason]:
    """The cache-miss reasons the API reported, the most expensive first."""
    lost = _sum(c.cache_missed_cost_usd)
    query = (
        select(c.cache_miss_reason, func.count(), _sum(c.cache_missed_tokens), lost)
        .where(where, c.cache_miss_reason.is_not(None))
        .group_by(c.cache_miss_reason)
        .order_by(lost.desc(), func.count().desc())
    )
    return [
        MissReason(str(reason), int(n), int(tokens), float(usd))
        for reason, n, tokens, usd in connection.execute(query)
    ]


def timeline(
    connection: Connection, where: ColumnElement[bool], bucket_seconds: int
) -> list[TimelinePoint]:
    """Spend and savings per time bucket, oldest first; empty buckets are left out."""
    bucket = c.started_epoch_ms // (bucket_seconds * 1000)
    query = (
        select(
            bucket,
            func.count(),
            _sum(c.cost_usd),
            _sum(c.cost_without_cache_usd),
            _sum(c.saved_usd),
        )
        .where(where)
        .group_by(bucket)
        .order_by(bucket)
    )
    return [
        TimelinePoint(
            datetime.fromtimestamp(int(b) * bucket_seconds, UTC),
            int(n),
            float(cost),
            float(without),
            float(saved),
        )
        for b, n, cost, without, saved in connection.execute(query)
    ]


_ROW_COLUMNS = (
    c.id,
    c.started_at,
    c.feature,
    c.model,
    c.conversation_id,
    c.batch,
    c.input_tokens,
    c.cache_write_5m_tokens,
    c.cache_write_1h_tokens,
    c.cache_read_tokens,
    c.output_tokens,
    c.price_source,
    c.cost_usd,
    c.cost_without_cache_usd,
    c.saved_usd,
    c.latency_ms,
    c.time_to_first_token_ms,
    c.request_id,
    c.http_request_id,
    c.layer_hit,
    c.cache_miss_reason,
    c.cache_missed_tokens,
    c.avoided_cost_usd,
    c.cache_write_read_back_tokens,
    c.error,
    c.routed_from_model,
    c.routing_saved_usd,
    c.semantic_similarity,
    c.semantic_question,
    c.semantic_audit_agreed,
    c.output_estimated,
)


def rows(
    connection: Connection,
    where: ColumnElement[bool],
    *,
    limit: int,
    offset: int,
    most_expensive: bool = False,
) -> list[LedgerRow]:
    """Recorded calls, newest first (or the most expensive first), one page."""
    order = (
        (c.cost_usd.desc().nulls_last(), c.id.desc())
        if most_expensive
        else (c.started_epoch_ms.desc(), c.id.desc())
    )
    query = select(*_ROW_COLUMNS).where(where).order_by(*order).limit(limit).offset(offset)
    return [_ledger_row(row) for row in connection.execute(query)]


def _ledger_row(row: Sequence[Any]) -> LedgerRow:
    values = list(row)
    values[1] = values[1].replace(tzinfo=UTC)
    return LedgerRow(*values)


def count(connection: Connection, where: ColumnElement[bool]) -> int:
    """How many rows match where."""
    query = select(func.count()).select_from(calls).where(where)
    return int(connection.execute(query).scalar_one())


def latency_histogram(
    connection: Connection,
    where: ColumnElement[bool],
    bounds_ms: tuple[float, ...],
    first_token: bool = False,
) -> LatencyHistogram:
    """Cumulative latency (or time-to-first-token) counts per feature."""
    column = c.time_to_first_token_ms if first_token else c.latency_ms
    buckets = [_count_if(column <= bound) for bound in bounds_ms]
    query = (
        select(c.feature, *buckets, func.count(column), _sum(column))
        .where(
            where,
            column.is_not(None),
            c.layer_hit.not_in([CacheLayer.ANSWER.value, CacheLayer.SEMANTIC.value]),
        )
        .group_by(c.feature)
    )
    by_feature = {}
    for row in connection.execute(query):
        counts = tuple(int(v) for v in row[1 : 1 + len(bounds_ms)])
        by_feature[str(row[0])] = (counts, int(row[-2]), float(row[-1]))
    return LatencyHistogram(bounds_ms, by_feature)
