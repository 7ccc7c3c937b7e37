"""`strata usage` and `strata batch --url`: what the local commands print, from the server."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.processes import more_than_a_client, run_strata


def test_usage_through_the_server_prints_the_local_report(
    client: httpx.Client, strata_url: str, corpus_home: Path, tmp_path: Path
) -> None:
    for question in ("How do bees make honey?", "How do bees make honey?", "What is a starter?"):
        response = client.post("/v1/ask", json={"question": question, "stream": False})
        assert response.status_code == 200, response.text

    modules = tmp_path / "modules.txt"
    remote = run_strata("usage", "--url", strata_url, home=tmp_path, modules_file=modules)
    local = run_strata("usage", home=corpus_home)
    remote_json = run_strata("usage", "--json", "--days", "1", "--url", strata_url, home=tmp_path)

    assert remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout
    assert "calls 3 (answer-cache hits 1, unpriced 0)" in remote.stdout
    assert more_than_a_client(modules) == []
    assert remote_json.returncode == 0, remote_json.stderr
    assert '"calls": 3' in remote_json.stdout


def test_a_batch_through_the_server_waits_and_prints_each_answer(
    strata_url: str, tmp_path: Path
) -> None:
    questions = tmp_path / "questions.txt"
    questions.write_text("How do bees make honey?\n\nWhat is a sourdough starter?\n")
    modules = tmp_path / "modules.txt"
    result = run_strata(
        "batch",
        str(questions),
        "--url",
        strata_url,
        home=tmp_path / "client",
        modules_file=modules,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Batch batch_")
    assert lines[0].endswith(": 2 question(s) submitted.")
    assert any(line.startswith("[1] How do bees make honey?") for line in lines)
    assert any(line.startswith("[2] What is a sourdough starter?") for line in lines)
    assert sum(line.startswith("Usage: ") and "batch price $" in line for line in lines) == 2
    assert lines[-1].endswith("ended: 2 succeeded.")
    assert more_than_a_client(modules, plain_lines=True) == []
