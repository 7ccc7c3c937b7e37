"""A small folder of documents for `strata ingest`, with one file name in two folders."""

from __future__ import annotations

from pathlib import Path


def corpus(root: Path) -> Path:
    docs = root / "docs"
    for folder, text in [
        ("herons", "Grey herons stand still in shallow water and strike at fish."),
        ("lamps", "Oil lamps were trimmed every evening by the lighthouse keeper."),
    ]:
        (docs / folder).mkdir(parents=True)
        # The same file name in two folders: two documents, not one replacing the other.
        (docs / folder / "notes.md").write_text(f"# {folder.title()}\n\n{text}\n")
    (docs / "readme.txt").write_text("A corpus of two notes about birds and lights.\n")
    return docs
