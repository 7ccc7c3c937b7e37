"""`strata usage` reads the ledger under STRATA_HOME and prints the same figures as the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rag.ledger import Ledger, database_url
from rag.types import CallRecord, Feature, Usage

STRATA = Path(sys.executable).parent / "strata"


def run_usage(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STRATA_HOME": str(home)}
    return subprocess.run(
        [str(STRATA), "usage", *args], env=env, capture_output=True, text=True, check=True
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    ledger = Ledger.open(database_url(tmp_path, None))
    now = datetime.now(UTC)
    ledger.record(
        CallRecord(Feature.ASK, "claude-sonnet-4-6", Usage(input_tokens=1_000), now, 10.0)
    )
    ledger.record(
        CallRecord(
            Feature.ASK_STREAM,
            "claude-sonnet-4-6",
            Usage(input_tokens=10, cache_read_input_tokens=10_000, output_tokens=100),
            now,
            10.0,
        )
    )
    ledger.close()
    return tmp_path


def test_usage_prints_the_savings_as_json(home: Path) -> None:
    summary = json.loads(run_usage(home, "--json").stdout)

    assert summary["calls"] == 2
    # 10,000 tokens read at $0.30 instead of $3 per million
    assert summary["saved_usd"] == pytest.approx(10_000 * 2.7 / 1e6)
    assert set(summary["by_feature"]) == {"ask", "ask_stream"}


def test_usage_prints_a_readable_summary(home: Path) -> None:
    out = run_usage(home).stdout

    assert "calls 2" in out
    assert "saved $0.0270" in out
    assert "claude-sonnet-4-6" in out
