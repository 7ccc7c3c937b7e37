"""`strata ask` with --format, --thinking, --thinking-budget, --model and --dry-run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.structured import StructuredAnswer
from tests.answering.conftest import UpstreamMonitor
from tests.features.conftest import CURRENT_MODEL, LEGACY_MODEL
from tests.processes import run_strata

QUESTION = "How do bees keep the colony warm in winter?"


@pytest.mark.parametrize(
    ("model", "thinking"),
    [(CURRENT_MODEL, ["--thinking", "high"]), (LEGACY_MODEL, ["--thinking-budget", "2048"])],
)
def test_strata_ask_prints_a_json_answer_with_thinking_on_stderr(
    corpus_home: Path, emulator_url: str, model: str, thinking: list[str]
):
    result = run_strata(
        "ask",
        QUESTION,
        "--no-stream",
        "--model",
        model,
        "--format",
        "json",
        *thinking,
        home=corpus_home,
        emulator_url=emulator_url,
    )

    assert result.returncode == 0, result.stderr
    assert "bees" in result.stderr.lower()
    answer = json.loads(result.stdout.split("\n\n")[0])
    assert "cluster" in StructuredAnswer.model_validate(answer).answer
    assert any(line.startswith("Usage:") for line in result.stdout.splitlines())


def test_strata_ask_dry_run_prices_without_answering(
    corpus_home: Path, emulator_url: str, monitor: UpstreamMonitor
):
    result = run_strata(
        "ask",
        QUESTION,
        "--dry-run",
        "--model",
        LEGACY_MODEL,
        home=corpus_home,
        emulator_url=emulator_url,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Dry run on {LEGACY_MODEL}: ")
    assert "without caching" in result.stdout
    assert monitor.bodies == []


def test_strata_ask_refuses_what_the_model_does_not_take(corpus_home: Path, emulator_url: str):
    result = run_strata(
        "ask",
        QUESTION,
        "--model",
        LEGACY_MODEL,
        "--thinking",
        "low",
        home=corpus_home,
        emulator_url=emulator_url,
    )

    assert result.returncode == 1
    assert "takes a thinking budget" in result.stderr
