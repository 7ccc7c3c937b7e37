"""`strata usage` on a terminal: the savings summary and the cache layers, from their JSON.

The same dictionaries come from the local ledger and from a server's /v1/usage, so both print
the same report.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


def money(usd: float) -> str:
    """Dollars with enough digits to show small amounts."""
    size = abs(usd)
    digits = 2 if size == 0 or size >= 100 else 3 if size >= 1 else 4 if size >= 0.01 else 6
    return f"{'-' if usd < 0 else ''}${size:.{digits}f}"


def print_usage(summary: dict[str, Any], layers: list[dict[str, Any]], out: Console) -> None:
    """The summary (totals, since, wasted_writes, by_feature, by_model) and the layers' table."""
    since = summary["since"]
    period = f"since {since[:16].replace('T', ' ')} UTC" if since else "all time"
    saved, without = summary["saved_usd"], summary["cost_without_cache_usd"]
    rate = saved / without if without else 0
    out.print(f"Strata usage, {period}", style="bold", markup=False)
    out.print(
        f"calls {summary['calls']:,} (answer-cache hits {summary['answer_cache_hits']:,}, "
        f"unpriced {summary['unpriced_calls']:,})",
        markup=False,
    )
    out.print(
        f"spent {money(summary['cost_usd'])}, without caching {money(without)}, "
        f"saved {money(saved)} ({rate:.1%})",
        markup=False,
    )
    out.print(
        f"tokens: input {summary['input_tokens']:,}, cache writes "
        f"{summary['cache_creation_input_tokens']:,} "
        f"(1h {summary['cache_creation_1h_input_tokens']:,}), "
        f"cache reads {summary['cache_read_input_tokens']:,}, "
        f"output {summary['output_tokens']:,}",
        markup=False,
    )
    wasted = summary["wasted_writes"]
    out.print(
        f"writes never read back: {wasted['tokens']:,} tokens, {money(wasted['usd'])} wasted",
        markup=False,
    )
    for name in ("feature", "model"):
        out.print(_group_table(name, summary.get(f"by_{name}") or {}))
    table = Table("layer", "hit rate", "hits / eligible", "saved", title="Cache layers")
    for stats in layers:
        rate_text = "-" if stats["hit_rate"] is None else f"{stats['hit_rate']:.1%}"
        hits = f"{stats['hits']:,}/{stats['eligible_calls']:,}"
        table.add_row(stats["layer"], rate_text, hits, money(stats["saved_usd"]))
    out.print(table)


def _group_table(name: str, group: dict[str, dict[str, Any]]) -> Table:
    table = Table(name, "calls", "spent", "without cache", "saved", title=f"By {name}")
    for key, sums in sorted(group.items(), key=lambda item: -item[1]["cost_usd"]):
        priced = sums["unpriced_calls"] < sums["calls"]
        table.add_row(
            Text(key),
            f"{sums['calls']:,}",
            *(
                money(sums[usd]) if priced else "unpriced"
                for usd in ("cost_usd", "cost_without_cache_usd", "saved_usd")
            ),
        )
    return table
