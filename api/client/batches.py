"""`strata batch` sent to a server: POST /v1/batches, then its status and results."""

from __future__ import annotations

import time
from pathlib import Path

from api.cli_output import batch_lines, batch_result_lines, results_hint
from api.client.http import ServerClient
from api.client.printing import echo
from api.control_chars import for_terminal

# Waiting at a terminal: ask for the batch's status every second.
_WAIT_POLL_SECONDS = 1.0


class BatchFileError(Exception):
    """A batch file that cannot be read; its message is the line to print."""


def read_questions(file: Path) -> list[str]:
    """The questions of a batch file: one a line, blank lines skipped."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BatchFileError(f"strata: cannot read {for_terminal(str(file))}: {reason}") from None
    questions = [line.strip() for line in text.splitlines()]
    return [question for question in questions if question]


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
        echo(results_hint(batch["id"]))
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
        echo(line)
