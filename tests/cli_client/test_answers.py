"""`strata ask` and `strata search --url`: the local command's output, with no engine loaded."""

from __future__ import annotations

import re
from pathlib import Path

from api.app import create_app
from api.serving import serve_in_thread
from rag.settings import Settings
from tests.processes import more_than_a_client, run_strata

QUESTION = "How does a Fresnel lens help a lighthouse?"


def _answer_part(stdout: str) -> str:
    """The answer and its sources: all but the conversation and usage lines."""
    return "\n".join(
        line for line in stdout.splitlines() if not line.startswith(("Conversation:", "Usage:"))
    )


def test_an_ask_through_the_server_prints_the_local_answer_and_loads_no_engine(
    corpus_home: Path, emulator_url: str, strata_settings: Settings, tmp_path: Path
) -> None:
    local = run_strata(
        "ask",
        QUESTION,
        "--no-stream",
        home=corpus_home,
        emulator_url=emulator_url,
        settings={"STRATA_CONTEXT_SCORE_MARGIN": str(strata_settings.context_score_margin)},
    )
    assert local.returncode == 0, local.stderr

    modules = tmp_path / "modules.txt"
    with serve_in_thread(create_app(strata_settings)) as url:
        remote = run_strata(
            "ask", QUESTION, "--url", url, home=tmp_path / "client", modules_file=modules
        )
        assert remote.returncode == 0, remote.stderr
        conversation = next(
            line.split()[1]
            for line in remote.stdout.splitlines()
            if line.startswith("Conversation:")
        )
        follow_up = run_strata(
            "ask",
            "And who kept the lights?",
            "--conversation",
            conversation,
            home=tmp_path / "client",
            settings={"STRATA_URL": url},
        )

    assert _answer_part(remote.stdout) == _answer_part(local.stdout)
    assert "lighthouses.md" in remote.stdout
    [usage] = [line for line in remote.stdout.splitlines() if line.startswith("Usage:")]
    assert re.fullmatch(
        r"Usage: \d+ in, \d+ cache write, \d+ cache read, \d+ out; "
        r"cost \$\d+\.\d{6}, saved \$-?\d+\.\d{6}",
        usage,
    )
    assert more_than_a_client(modules, plain_lines=True) == []
    assert not (tmp_path / "client").exists()
    assert follow_up.returncode == 0, follow_up.stderr
    assert f"Conversation: {conversation}" in follow_up.stdout


def test_a_search_through_the_server_prints_what_the_local_search_prints(
    corpus_home: Path, emulator_url: str, strata_settings: Settings, tmp_path: Path
) -> None:
    local = run_strata("search", "waggle dance", "--top-k", "3", home=corpus_home)
    assert local.returncode == 0, local.stderr

    modules = tmp_path / "modules.txt"
    with serve_in_thread(create_app(strata_settings)) as url:
        remote = run_strata(
            "search",
            "waggle dance",
            "--top-k",
            "3",
            "--url",
            url,
            home=tmp_path / "client",
            modules_file=modules,
        )

    assert remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout
    assert "bees.md" in remote.stdout.splitlines()[0]
    assert more_than_a_client(modules, plain_lines=True) == []


def test_escape_sequences_in_a_document_never_reach_the_terminal_through_the_server(
    strata_url: str, tmp_path: Path
) -> None:
    note = tmp_path / "harbour.md"
    title = "Harbour \x1b]0;owned\x07notes\x1b[2J \x9b31m\u202eevil"
    note.write_text(f"# {title}\n\nThe harbour master rings the tide bell at dawn.\n\x1b[31mred\n")
    ingested = run_strata("ingest", str(note), "--url", strata_url, home=tmp_path / "client")
    assert ingested.returncode == 0, ingested.stderr

    # The answer's sources show the title; the search shows the text.
    for command, shown in [
        (["ask", "Who rings the tide bell?"], "Harbour \\x1b]0;owned\\x07notes\\x1b[2J"),
        (["search", "tide bell"], "dawn. \\x1b[31mred"),
    ]:
        result = run_strata(*command, "--url", strata_url, home=tmp_path / "client")
        assert result.returncode == 0, result.stderr
        for stream in (result.stdout, result.stderr):
            assert not {"\x1b", "\x9b", "\x07", "\u202e"} & set(stream)
        assert shown in result.stdout


def test_a_dry_run_and_an_agentic_ask_go_through_the_server(
    strata_url: str, tmp_path: Path
) -> None:
    priced = run_strata("ask", QUESTION, "--dry-run", "--url", strata_url, home=tmp_path)
    agentic = run_strata("ask", QUESTION, "--agentic", "--url", strata_url, home=tmp_path)

    assert priced.returncode == 0, priced.stderr
    lines = priced.stdout.splitlines()
    assert lines[0].startswith("Dry run on ")
    assert lines[0].endswith("nothing was generated.")
    assert any(line.startswith("Input: $") and "without caching" in line for line in lines)
    assert agentic.returncode == 0, agentic.stderr
    # The tool calls go to stderr as they happen; the sources come with the end of the loop.
    assert "-> search_documents " in agentic.stderr
    assert "Sources:" in agentic.stdout
    assert "lighthouses.md" in agentic.stdout
