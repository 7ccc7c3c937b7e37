"""`strata usage` and `strata batch` sent to a server: /v1/usage and /v1/batches."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import typer
from rich.console import Console

from api.cli_output import batch_lines, batch_result_lines, results_hint
from api.client.http import ServerClient
from api.usage_report import print_usage

# Waiting at a terminal: ask for the batch's status every second.
_WAIT_POLL_SECONDS = 1.0


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


def run_batch(
    client: ServerClient, questions: list[str], model: str | None, top_k: int | None, wait: bool
) -> int:
    """Submit questions to the server; with wait, print each answer once the batch ended."""
    body = {
        "questions": [{"question": question} for question in questions],
        "model": model,
        "top_k": top_k,
    }
    batch = client.post("/v1/batches", body)
    _echo(batch_lines(batch, submitted=True))
    if not wait:
        typer.echo(results_hint(batch["id"]))
        return 0
    while not batch["usage_recorded"]:
        time.sleep(_WAIT_POLL_SECONDS)
        batch = client.get(f"/v1/batches/{batch['id']}")
    ended = client.get(f"/v1/batches/{batch['id']}/results")
    for result in ended["results"]:
        _echo(batch_result_lines(result))
    batch = ended["batch"]
    _echo(batch_lines(batch, submitted=False))
    return 0 if batch["request_counts"]["succeeded"] == batch["questions"] else 1


def _echo(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)
