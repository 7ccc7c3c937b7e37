"""`strata ingest` sent to a server: files hashed here, the new ones uploaded, their jobs followed.

A file whose bytes the server has indexed already is not sent. Each file is named as the local
command names it (relative to the working directory, or else to the folder named), so sources
and citations read the same whichever way a corpus was ingested.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from api.client.http import ServerClient, ServerError
from api.ingest_output import FileNotes, report_missing
from ingest.files import (
    FileOutcome,
    IngestReport,
    Outcome,
    collect_files,
    document_id_of,
    source_name,
)

# Waiting on jobs: how often their status is asked for.
_POLL_SECONDS = 0.25
# Refusals of one file (too large, unsupported, unreadable); any other status stops the run.
_FILE_REFUSALS = frozenset({400, 413, 415, 422})


@dataclass(frozen=True, slots=True)
class _Sent:
    index: int
    source: str
    job_id: str
    replaces: bool


def upload_names(paths: Sequence[Path]) -> list[tuple[Path, str]]:
    """Each file to ingest with its name: as `strata ingest` names it here, else from its folder.

    A file outside the working directory is named from the folder given on the command line
    (`/data/docs` gives `docs/a.md`): the server has no use for this machine's absolute paths.
    """
    named: dict[Path, str] = {}
    for path in paths:
        base = path.resolve().parent
        for file in collect_files([path]):
            name = source_name(file)
            if Path(name).is_absolute():
                name = file.resolve().relative_to(base).as_posix()
            named.setdefault(file, name)
    return list(named.items())


def run_ingest(client: ServerClient, paths: Sequence[Path], out: Console, err: Console) -> int:
    """Upload what the server lacks of paths, wait for every job; the local command's output."""
    started = time.perf_counter()
    existing = report_missing(paths, err)
    files = upload_names(existing)
    known = {d["document_id"]: d for d in client.get("/v1/documents")["documents"]}
    indexed_sources = {d["source"] for d in known.values() if d["status"] == "done"}
    outcomes: dict[int, FileOutcome] = {}
    with FileNotes(out, len(files)) as notes:

        def note(index: int, outcome: FileOutcome) -> None:
            outcomes[index] = outcome
            notes.note(outcome)

        sent: list[_Sent] = []
        sending: set[str] = set()
        for index, (path, name) in enumerate(files):
            try:
                data = path.read_bytes()
            except OSError as exc:
                note(index, FileOutcome(name, "failed", error=str(exc)))
                continue
            document_id = document_id_of(data)
            record = known.get(document_id)
            if document_id in sending or (record is not None and record["status"] == "done"):
                chunks = record["chunk_count"] if record is not None else 0
                note(index, FileOutcome(name, "unchanged", document_id, chunks))
                continue
            job = _upload(client, name, data)
            if job["status"] == "failed":
                note(index, FileOutcome(name, "failed", error=job["error"]))
                continue
            sending.add(document_id)
            sent.append(_Sent(index, name, job["id"], name in indexed_sources))
        _follow(client, sent, known, note)
    report = IngestReport([outcomes[i] for i in sorted(outcomes)], time.perf_counter() - started)
    out.print(report.summary(), markup=False, highlight=False)
    return 1 if len(existing) < len(paths) or report.count("failed") else 0


def _upload(client: ServerClient, name: str, data: bytes) -> dict[str, Any]:
    # The type is left to the server, from the bytes and the name, as a local ingest does.
    try:
        reply = client.post("/v1/documents", file=(name, data))
    except ServerError as exc:
        if exc.status not in _FILE_REFUSALS:
            raise
        return {"status": "failed", "error": exc.reason}
    job: dict[str, Any] = reply["jobs"][0]
    return job


def _follow(
    client: ServerClient,
    sent: list[_Sent],
    known: dict[str, dict[str, Any]],
    note: Callable[[int, FileOutcome], None],
) -> None:
    """Wait for each job to end and note its outcome, with the chunks the server wrote."""
    waiting = list(sent)
    while waiting:
        still: list[_Sent] = []
        finished: list[tuple[_Sent, dict[str, Any]]] = []
        for item in waiting:
            job = client.get(f"/v1/jobs/{item.job_id}")
            if job["status"] in ("done", "failed"):
                finished.append((item, job))
            else:
                still.append(item)
        if finished:
            chunks = {
                d["document_id"]: d["chunk_count"] for d in client.get("/v1/documents")["documents"]
            }
        for item, job in finished:
            document_id = job["document_id"]
            if job["status"] == "failed":
                note(item.index, FileOutcome(item.source, "failed", error=job["error"]))
            elif document_id in known and known[document_id]["status"] == "done":
                note(item.index, FileOutcome(item.source, "unchanged", document_id))
            else:
                outcome: Outcome = "updated" if item.replaces else "added"
                count = chunks.get(document_id, 0)
                note(item.index, FileOutcome(item.source, outcome, document_id, count))
        waiting = still
        if waiting:
            time.sleep(_POLL_SECONDS)
