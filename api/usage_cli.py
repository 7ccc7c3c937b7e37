"""`strata usage`: the savings summary on a terminal, or as JSON, read from the ledger alone."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from rich.console import Console

from api.usage_report import print_usage
from rag.ledger import Ledger, Summary, database_url
from rag.settings import Settings


def run_usage(settings: Settings, days: int | None, as_json: bool, out: Console) -> int:
    """Print the summary of the last days (all time when None); the exit status."""
    since = datetime.now(UTC) - timedelta(days=days) if days else None
    # Only the ledger is needed: no model, store or Claude client is opened for this.
    settings.home.mkdir(parents=True, exist_ok=True)
    ledger = Ledger.open(database_url(settings.home, settings.database_url))
    try:
        summary = ledger.summary(since=since, group_by=("feature", "model", "layer"))
        layers = ledger.layer_stats(since=since)
    finally:
        ledger.close()
    if as_json:
        out.print_json(json.dumps(_as_json(summary)))
        return 0
    print_usage(_as_json(summary), [{**asdict(s), "hit_rate": s.hit_rate} for s in layers], out)
    return 0


def _as_json(summary: Summary) -> dict[str, object]:
    data: dict[str, object] = summary.totals.as_dict()
    data["since"] = summary.since.isoformat() if summary.since else None
    data["wasted_writes"] = {
        "tokens": summary.wasted_writes.tokens,
        "usd": summary.wasted_writes.usd,
    }
    for name, group in summary.groups.items():
        data[f"by_{name}"] = {key: sums.as_dict() for key, sums in group.items()}
    return data
