"""What `strata ingest` shows while it runs, here or through a server: a bar and the failures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.control_chars import for_terminal
from ingest.files import FileOutcome


class FileNotes:
    """A progress bar over files (on a terminal only) that prints each failure as it comes."""

    def __init__(self, out: Console, total: int) -> None:
        self._progress = Progress(
            TextColumn("ingesting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=out,
            disable=not out.is_terminal,
            transient=True,
        )
        self._task = self._progress.add_task("", total=total)

    def __enter__(self) -> FileNotes:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def note(self, outcome: FileOutcome) -> None:
        """One file's outcome is known."""
        description = escape(for_terminal(outcome.source))
        self._progress.update(self._task, advance=1, description=description)
        if outcome.outcome == "failed":
            self._progress.console.print(
                for_terminal(f"failed: {outcome.source}: {outcome.error}"),
                markup=False,
                style="red",
            )


def report_missing(paths: Sequence[Path], err: Console) -> list[Path]:
    """The paths that exist; each one that does not is named on err."""
    for path in paths:
        if not path.exists():
            err.print(f"strata ingest: {path}: no such file or folder", markup=False)
    return [path for path in paths if path.exists()]
