"""`strata usage` sent to a server: GET /v1/usage/summary and /v1/usage/insights."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from rich.console import Console

from api.client.http import ServerClient
from api.usage_report import print_usage


def run_usage(client: ServerClient, days: int | None, as_json: bool, out: Console) -> int:
    """The server's savings summary of the last days (all time when None)."""
    params: dict[str, str] = {"group_by": "feature,model,layer"}
    if days:
        params["since"] = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    summary = client.get("/v1/usage/summary", params)
    if as_json:
        out.print_json(json.dumps(summary))
        return 0
    since = {"since": params["since"]} if days else {}
    layers = client.get("/v1/usage/insights", since)["layers"]
    print_usage(summary, layers, out)
    return 0
