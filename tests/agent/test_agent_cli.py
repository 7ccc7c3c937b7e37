"""`strata ask --agentic`: the tool calls on stderr, then the answer, sources and usage."""

from __future__ import annotations

from pathlib import Path

from tests.processes import run_strata


def test_strata_ask_agentic_shows_the_tool_calls_then_the_cited_answer(
    corpus_home: Path, emulator_url: str
):
    result = run_strata(
        "ask", "What did lighthouse keepers do?", "--agentic",
        home=corpus_home, emulator_url=emulator_url,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert '-> search_documents {"query": "What did lighthouse keepers do?"' in result.stderr
    assert "<- search_documents: " in result.stderr
    assert "Lighthouse keepers trimmed wicks" in result.stdout
    assert "lighthouses.md" in result.stdout
    assert len([line for line in result.stdout.splitlines() if line.startswith("Usage:")]) == 1


def test_strata_ask_agentic_reports_the_iteration_cap(corpus_home: Path, emulator_url: str):
    result = run_strata(
        "ask", "Use search_documents, then get_document, for the lighthouse keepers.",
        "--agentic", "--max-iterations", "1",
        home=corpus_home, emulator_url=emulator_url,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "stopped at the cap of 1 Claude call with search_documents still wanted" in result.stderr
