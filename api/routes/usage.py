"""The savings ledger as JSON: the summary, the recorded calls, and the dashboard's insights.

Handlers are plain functions: FastAPI runs them in its thread pool, where the ledger's
database calls may block.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.deps import Caller, ServicesDep, ViewerCaller
from api.schemas import (
    KeySpend,
    LayerUsage,
    LedgerEntry,
    MissReasonUsage,
    TimelinePoint,
    UsageInsights,
    UsageRequests,
    UsageSummary,
    UsageTotals,
    WastedWrites,
)
from api.wiring import Services
from rag.ledger import Totals
from rag.types import Feature

router = APIRouter(prefix="/v1/usage", tags=["usage"])

Since = Annotated[
    datetime | None, Query(description="Only calls started at or after this time (ISO 8601).")
]
Until = Annotated[datetime | None, Query(description="Only calls started before this time.")]
_MAX_PAGE = 200
_MAX_OFFSET = 2**31 - 1
# Feature tags and model ids: letters, digits and a few separators, never control characters.
_NAME = r"^[A-Za-z0-9._:@/-]{1,128}$"
_GROUP = "(feature|model|day|layer)"
_GROUP_LIST = f"^{_GROUP}(,{_GROUP})*$"


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime | None, ...]:
    # since at or after until is an empty period: zero calls, not an error.
    return _utc(since), _utc(until)


def _totals(totals: Totals) -> UsageTotals:
    return UsageTotals(**totals.as_dict())


@router.get("/summary", summary="What Claude calls cost and what caching saved")
def summary(
    caller: ViewerCaller,
    services: ServicesDep,
    since: Since = None,
    until: Until = None,
    group_by: Annotated[
        str,
        Query(
            description="Comma-separated groupings among feature, model, day, layer.",
            pattern=_GROUP_LIST,
        ),
    ] = "feature,model",
) -> UsageSummary:
    since, until = _period(since, until)
    groups = group_by.split(",")
    result = services.ledger.summary(since, until, {"feature", "model", "key", *groups})

    def group(name: str) -> dict[str, UsageTotals] | None:
        if name not in result.groups:
            return None
        return {key: _totals(sums) for key, sums in result.groups[name].items()}

    return UsageSummary(
        **_totals(result.totals).model_dump(),
        since=since,
        until=until,
        offline=services.settings.offline,
        wasted_writes=WastedWrites(**asdict(result.wasted_writes)),
        by_feature=group("feature") or {},
        by_model=group("model") or {},
        by_day=group("day") if "day" in groups else None,
        by_layer=group("layer") if "layer" in groups else None,
        by_key=group("key") or {},
        keys=_key_spend(services),
        routing_net_saved_usd=result.totals.routing_saved_usd - _route_cost_usd(result.groups),
    )


def _key_spend(services: Services) -> list[KeySpend]:
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        KeySpend(
            key_id=known.key_id,
            role=known.role,
            daily_budget_usd=(
                float(known.daily_budget_usd) if known.daily_budget_usd is not None else None
            ),
            spent_today_usd=float(services.ledger.spent_since(known.key_id, midnight)),
        )
        for known in services.keys.known()
    ]


def _route_cost_usd(groups: dict[str, dict[str, Totals]]) -> float:
    route = groups.get("feature", {}).get(Feature.ROUTE.value)
    return route.cost_usd if route is not None else 0.0


@router.get("/requests", summary="Recorded Claude calls, newest or most expensive first")
def requests(
    caller: ViewerCaller,
    services: ServicesDep,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=_MAX_PAGE, description="Calls per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=_MAX_OFFSET, description="Calls to skip.")] = 0,
    order: Annotated[
        Literal["recent", "cost"], Query(description="`recent` first or most `cost` first.")
    ] = "recent",
    feature: Annotated[str | None, Query(pattern=_NAME, description="Only this feature.")] = None,
    model: Annotated[str | None, Query(pattern=_NAME, description="Only this model.")] = None,
) -> UsageRequests:
    since, until = _period(since, until)
    rows, total = services.ledger.requests(
        limit=limit,
        offset=offset,
        since=since,
        until=until,
        feature=feature,
        model=model,
        most_expensive=order == "cost",
    )
    return UsageRequests(
        requests=[_entry(row.as_dict(), caller, services) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
        next_offset=offset + len(rows) if offset + len(rows) < total else None,
    )


def _entry(row: dict[str, Any], caller: Caller, services: Services) -> LedgerEntry:
    """A ledger row as the caller may see it: a conversation id only for an admin.

    Anyone else sees a keyed hash in its place: calls of one conversation still group
    together, but the id cannot be used to continue the conversation.
    """
    conversation_id = row["conversation_id"]
    if conversation_id is not None and caller.role != "admin":
        row["conversation_id"] = "h_" + services.keys.digest(conversation_id)
    return LedgerEntry(**row)


@router.get("/insights", summary="Hit rate per layer, cache-miss reasons, spend over time")
def insights(
    caller: ViewerCaller,
    services: ServicesDep,
    since: Since = None,
    until: Until = None,
    bucket_seconds: Annotated[
        int | None,
        Query(ge=60, le=30 * 86_400, description="Timeline bucket; default sized to the period."),
    ] = None,
) -> UsageInsights:
    since, until = _period(since, until)
    ledger = services.ledger
    bucket, points = ledger.timeline(since, until, bucket_seconds)
    return UsageInsights(
        since=since,
        until=until,
        layers=[
            LayerUsage(**asdict(stats), hit_rate=stats.hit_rate)
            for stats in ledger.layer_stats(since, until)
        ],
        miss_reasons=[MissReasonUsage(**asdict(m)) for m in ledger.miss_reasons(since, until)],
        bucket_seconds=bucket,
        timeline=[TimelinePoint(**asdict(point)) for point in points],
    )
