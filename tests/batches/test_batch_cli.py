from pathlib import Path

from tests.batches.conftest import QUESTIONS
from tests.processes import run_strata


def test_strata_batch_answers_a_file_of_questions_with_sources_and_batch_prices(
    corpus_home: Path, emulator_url: str, tmp_path: Path
):
    questions = tmp_path / "questions.txt"
    questions.write_text("\n".join(QUESTIONS) + "\n\n")

    result = run_strata(
        "batch",
        str(questions),
        "--model",
        "claude-haiku-4-5",
        "--top-k",
        "9",
        home=corpus_home,
        emulator_url=emulator_url,
    )

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Batch batch_")
    assert f"{len(QUESTIONS)} question(s) submitted" in out
    for number, question in enumerate(QUESTIONS, start=1):
        assert f"[{number}] {question}  (claude-haiku-4-5)" in out
    usage_lines = [line for line in out.splitlines() if line.startswith("Usage:")]
    assert len(usage_lines) == len(QUESTIONS)
    assert all("batch price $" in line for line in usage_lines)
    assert sum(" 0 cache read" not in line for line in usage_lines) == len(QUESTIONS) - 1
    assert out.rstrip().endswith(f"ended: {len(QUESTIONS)} succeeded.")
