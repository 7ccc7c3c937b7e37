"""`strata ingest PATH...`: a progress bar on a terminal, failures on stderr, one summary line."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.control_chars import for_terminal
from api.wiring import open_services
from ingest.pipeline import FileOutcome, IngestReport, collect_files
from rag.settings import Settings


async def _ingest(settings: Settings, paths: Sequence[Path], out: Console, err: Console) -> int:
    missing = [p for p in paths if not p.exists()]
    for path in missing:
        err.print(f"strata ingest: {path}: no such file or folder", markup=False)
    async with open_services(settings) as services:
        files = collect_files([p for p in paths if p.exists()])
        progress = Progress(
            TextColumn("ingesting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=out,
            disable=not out.is_terminal,
            transient=True,
        )
        task = progress.add_task("", total=len(files))

        def on_file(outcome: FileOutcome) -> None:
            progress.update(task, advance=1, description=escape(for_terminal(outcome.source)))
            if outcome.outcome == "failed":
                progress.console.print(
                    for_terminal(f"failed: {outcome.source}: {outcome.error}"),
                    markup=False,
                    style="red",
                )

        with progress:
            report: IngestReport = await asyncio.to_thread(
                services.pipeline.ingest_files, files, on_file
            )
    out.print(report.summary(), markup=False, highlight=False)
    return 1 if missing or report.count("failed") else 0


def run_ingest(settings: Settings, paths: Sequence[Path]) -> int:
    """Ingest paths into the store under settings.home; returns the exit code."""
    return asyncio.run(_ingest(settings, paths, Console(), Console(stderr=True)))
