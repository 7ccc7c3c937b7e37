"""A server that refuses, fails or is not there: one line on stderr and a non-zero exit."""

from __future__ import annotations

import subprocess
from pathlib import Path

from api.app import create_app
from api.serving import free_port, serve_in_thread
from rag.settings import Settings
from tests.answering.conftest import UpstreamMonitor
from tests.processes import run_strata

KEY = "a-user-key-of-the-server"


def _one_line_error(result: subprocess.CompletedProcess[str], *parts: str) -> None:
    stderr = result.stderr
    assert result.returncode == 1, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("strata: ")
    for part in parts:
        assert part in lines[0]
    assert "Traceback" not in stderr


def test_no_server_at_the_url_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for command in (["ask", "hello"], ["search", "hello"], ["usage"], ["ingest", str(tmp_path)]):
        result = run_strata(*command, "--url", url, home=tmp_path / "client")
        _one_line_error(result, "cannot reach a Strata server", url)


def test_a_missing_or_wrong_key_is_a_401_that_names_the_setting(
    strata_settings: Settings, tmp_path: Path
) -> None:
    keyed = strata_settings.model_copy(
        update={"api_keys": Settings(api_keys=f"{KEY}:user").api_keys}
    )
    with serve_in_thread(create_app(keyed)) as url:
        missing = run_strata("search", "bees", "--url", url, home=tmp_path)
        wrong = run_strata(
            "search",
            "bees",
            home=tmp_path,
            settings={"STRATA_URL": url, "STRATA_API_KEY": "not-the-key-of-the-server"},
        )
        right = run_strata(
            "search", "bees", home=tmp_path, settings={"STRATA_URL": url, "STRATA_API_KEY": KEY}
        )
    _one_line_error(missing, "401", "missing API key", "STRATA_API_KEY")
    _one_line_error(wrong, "401", "invalid API key")
    assert "not-the-key" not in wrong.stderr
    assert right.returncode == 0, right.stderr
    assert "bees.md" in right.stdout


def test_an_unknown_conversation_is_a_404(strata_url: str, tmp_path: Path) -> None:
    result = run_strata(
        "ask", "And then?", "--conversation", "conv_unknown", "--url", strata_url, home=tmp_path
    )
    _one_line_error(result, "404", "conv_unknown")


def test_claude_unavailable_is_a_5xx_for_a_whole_answer_and_an_error_for_a_stream(
    strata_url: str, monitor: UpstreamMonitor, tmp_path: Path
) -> None:
    monitor.faults.extend(["server_error"] * 20)
    whole = run_strata(
        "ask", "What is a starter?", "--no-stream", "--url", strata_url, home=tmp_path
    )
    streamed = run_strata("ask", "How do bees make honey?", "--url", strata_url, home=tmp_path)
    _one_line_error(whole, "503")
    assert streamed.returncode == 1
    assert streamed.stderr.strip().splitlines()[-1].startswith("strata: ")
    assert "Traceback" not in streamed.stderr


def test_a_key_no_header_can_carry_is_one_line_that_does_not_show_it(
    strata_url: str, tmp_path: Path
) -> None:
    # A key read from a file saved with CRLF line endings keeps its carriage return.
    key = "sk-strata-secret-of-the-user\r"
    settings = {"STRATA_URL": strata_url, "STRATA_API_KEY": key}
    # `--top-k +3` is read by the full command line only: both command lines are covered.
    for extra in ([], ["--top-k", "+3"]):
        result = run_strata("search", "bees", *extra, home=tmp_path, settings=settings)
        _one_line_error(result, "STRATA_API_KEY")
        assert "sk-strata-secret" not in result.stderr + result.stdout


def test_a_url_whose_port_is_not_one_is_one_line(tmp_path: Path) -> None:
    for url in ("http://127.0.0.1:80x0", "http://127.0.0.1:80000"):
        for extra in ([], ["--top-k", "+3"]):
            result = run_strata("search", "bees", *extra, "--url", url, home=tmp_path)
            _one_line_error(result, url, "not a server URL")


def test_a_batch_file_that_cannot_be_read_is_one_line(strata_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "questions.txt"
    not_text = tmp_path / "questions.bin"
    not_text.write_bytes(b"\xff\xfe\x00 not utf-8")
    for file in (missing, not_text):
        # Sent to a server (the fast path, then typer's), and answered locally.
        for extra in (["--url", strata_url], ["--top-k", "+3", "--url", strata_url], []):
            result = run_strata("batch", str(file), *extra, home=tmp_path / "home")
            _one_line_error(result, "cannot read", str(file))
