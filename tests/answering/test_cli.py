from pathlib import Path

from tests.processes import run_strata


def test_strata_ask_prints_the_answer_its_sources_and_one_usage_line(
    corpus_home: Path, emulator_url: str
):
    result = run_strata(
        "ask",
        "How does a Fresnel lens help a lighthouse?",
        "--no-stream",
        home=corpus_home,
        emulator_url=emulator_url,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Sources:" in out
    assert "lighthouses.md" in out
    usage_lines = [line for line in out.splitlines() if line.startswith("Usage:")]
    assert len(usage_lines) == 1
    assert "cost $" in usage_lines[0]
    assert "saved $" in usage_lines[0]
    conversation = next(
        line.split()[1] for line in out.splitlines() if line.startswith("Conversation:")
    )

    follow_up = run_strata(
        "ask",
        "And who kept the lights?",
        "--conversation",
        conversation,
        home=corpus_home,
        emulator_url=emulator_url,
    )
    assert follow_up.returncode == 0, follow_up.stderr
    assert f"Conversation: {conversation}" in follow_up.stdout


def test_strata_search_lists_chunks_best_first(corpus_home: Path, emulator_url: str):
    result = run_strata(
        "search", "waggle dance", "--top-k", "2", home=corpus_home, emulator_url=emulator_url
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(" 1. ")
    assert "bees.md" in lines[0]
    assert sum(line[:4].strip().endswith(".") for line in lines) == 2
