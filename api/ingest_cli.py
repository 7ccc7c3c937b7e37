"""`strata ingest PATH...`: a progress bar on a terminal, failures on stderr, one summary line.

Files are hashed first: when every one is indexed already, the command says so and stops
without loading the parsers, the embedding model or the store.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from api.ingest_output import FileNotes, report_missing
from ingest.files import FileOutcome, IngestReport, collect_files, document_id_of, source_name
from rag.settings import Settings
from rag.storage import Database, database_url
from rag.storage.documents import indexed_chunk_counts


def _unchanged(settings: Settings, files: Sequence[Path], started: float) -> IngestReport | None:
    """The report of an ingest that changes nothing, or None if some file is new or changed."""
    try:
        ids = [document_id_of(path.read_bytes()) for path in files]
    except OSError:
        return None  # the full ingest reports the file it cannot read
    database = Database.open_unmigrated(database_url(settings.home, settings.database_url))
    try:
        counts = indexed_chunk_counts(database, ids)
    finally:
        database.close()
    if any(document_id not in counts for document_id in ids):
        return None
    outcomes = [
        FileOutcome(source_name(path), "unchanged", document_id, counts[document_id])
        for path, document_id in zip(files, ids, strict=True)
    ]
    return IngestReport(outcomes, time.perf_counter() - started)


async def _ingest(settings: Settings, files: list[Path], out: Console) -> IngestReport:
    # Imported here: an unchanged re-ingest never needs the model, the store or the parsers.
    from api.wiring import open_services

    async with open_services(settings) as services:
        with FileNotes(out, len(files)) as notes:
            return await asyncio.to_thread(services.pipeline.ingest_files, files, notes.note)


def run_ingest(settings: Settings, paths: Sequence[Path]) -> int:
    """Ingest paths into the store under settings.home; returns the exit code."""
    started = time.perf_counter()
    out, err = Console(), Console(stderr=True)
    existing = report_missing(paths, err)
    settings.home.mkdir(parents=True, exist_ok=True)
    files = collect_files(existing)
    report = _unchanged(settings, files, started)
    if report is None:
        report = asyncio.run(_ingest(settings, files, out))
    out.print(report.summary(), markup=False, highlight=False)
    return 1 if len(existing) < len(paths) or report.count("failed") else 0
