"""Escape sequences in a document cannot reach the terminal of someone running the CLI."""

from __future__ import annotations

from pathlib import Path

from tests.processes import run_strata

# Sets the window title, clears the screen, and a C1 CSI that some terminals also obey.
HOSTILE_TITLE = "Harbour \x1b]0;owned\x07notes\x1b[2J \x9b31m\u202eevil"


def test_a_document_title_with_escape_sequences_prints_harmlessly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    note = tmp_path / "harbour.md"
    note.write_text(
        f"# {HOSTILE_TITLE}\n\nThe harbour master rings the tide bell at dawn.\n\x1b[31mred\n"
    )
    ingested = run_strata("ingest", str(note), home=home)
    assert ingested.returncode == 0, ingested.stderr

    # Streamed: the answer's text and then its sources, with the title, reach the terminal.
    result = run_strata("ask", "Who rings the tide bell?", home=home)
    assert result.returncode == 0, result.stderr
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream
        assert "\x9b" not in stream
        assert "\x07" not in stream
        assert "\u202e" not in stream
    # The title is still shown, with its control characters spelled out.
    assert "Harbour \\x1b]0;owned\\x07notes\\x1b[2J" in result.stdout
