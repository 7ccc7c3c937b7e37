"""`strata usage`: the savings summary on a terminal, or as JSON, read from the ledger alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rag.ledger import Ledger, Summary, Totals, database_url
from rag.settings import Settings


def money(usd: float) -> str:
    """Dollars with enough digits to show small amounts."""
    size = abs(usd)
    digits = 2 if size == 0 or size >= 100 else 3 if size >= 1 else 4 if size >= 0.01 else 6
    return f"{'-' if usd < 0 else ''}${size:.{digits}f}"


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
    _print_summary(summary, out)
    table = Table("layer", "hit rate", "hits / eligible", "saved", title="Cache layers")
    for stats in layers:
        rate = "-" if stats.hit_rate is None else f"{stats.hit_rate:.1%}"
        hits = f"{stats.hits:,}/{stats.eligible_calls:,}"
        table.add_row(stats.layer, rate, hits, money(stats.saved_usd))
    out.print(table)
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


def _print_summary(summary: Summary, out: Console) -> None:
    totals = summary.totals
    period = f"since {summary.since:%Y-%m-%d %H:%M} UTC" if summary.since else "all time"
    rate = totals.saved_usd / totals.cost_without_cache_usd if totals.cost_without_cache_usd else 0
    out.print(f"Strata usage, {period}", style="bold", markup=False)
    out.print(
        f"calls {totals.calls:,} (answer-cache hits {totals.answer_cache_hits:,}, "
        f"unpriced {totals.unpriced_calls:,})",
        markup=False,
    )
    out.print(
        f"spent {money(totals.cost_usd)}, without caching {money(totals.cost_without_cache_usd)}, "
        f"saved {money(totals.saved_usd)} ({rate:.1%})",
        markup=False,
    )
    out.print(
        f"tokens: input {totals.input_tokens:,}, cache writes "
        f"{totals.cache_creation_input_tokens:,} (1h {totals.cache_creation_1h_input_tokens:,}), "
        f"cache reads {totals.cache_read_input_tokens:,}, output {totals.output_tokens:,}",
        markup=False,
    )
    wasted = summary.wasted_writes
    out.print(
        f"writes never read back: {wasted.tokens:,} tokens, {money(wasted.usd)} wasted",
        markup=False,
    )
    for name in ("feature", "model"):
        out.print(_group_table(name, summary.groups.get(name, {})))


def _group_table(name: str, group: dict[str, Totals]) -> Table:
    table = Table(name, "calls", "spent", "without cache", "saved", title=f"By {name}")
    for key, sums in sorted(group.items(), key=lambda item: -item[1].cost_usd):
        priced = sums.unpriced_calls < sums.calls
        table.add_row(
            Text(key),
            f"{sums.calls:,}",
            *(
                money(usd) if priced else "unpriced"
                for usd in (sums.cost_usd, sums.cost_without_cache_usd, sums.saved_usd)
            ),
        )
    return table
