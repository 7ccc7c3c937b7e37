"""Which files an ingest takes, what each is named and identified by, and what happened to it.

Light on purpose: `strata ingest` decides from these alone that nothing changed, without loading
the parsers, the embedding model or the store.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ingest.sniffing import IMAGE_SUFFIXES, MEDIA_TYPE_BY_SUFFIX

Outcome = Literal["added", "updated", "unchanged", "failed"]


def content_hash(data: bytes) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def document_id_of(data: bytes) -> str:
    """A document's id: derived from its content, so the same bytes always get the same id."""
    return content_hash(data)[:32]


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one file."""

    source: str
    outcome: Outcome
    document_id: str | None = None
    chunks: int = 0
    error: str | None = None


@dataclass(slots=True)
class IngestReport:
    """What one ingest run did, file by file, and how long it took."""

    files: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, outcome: Outcome) -> int:
        return sum(1 for f in self.files if f.outcome == outcome)

    @property
    def chunks(self) -> int:
        """Chunks written for added and updated documents."""
        return sum(f.chunks for f in self.files if f.outcome in ("added", "updated"))

    def summary(self) -> str:
        """The one summary line of `strata ingest`."""
        return (
            f"{self.count('added')} added, {self.count('updated')} updated, "
            f"{self.count('unchanged')} unchanged, {self.count('failed')} failed; "
            f"{self.chunks} chunks in {self.seconds:.1f} s"
        )


def source_name(path: Path) -> str:
    """How a file is named in citations: relative to the working directory when inside it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """The files named, and the supported files under the folders named, recursively.

    Hidden files and folders are skipped, and so are files of types Strata cannot read.
    """
    wanted = set(MEDIA_TYPE_BY_SUFFIX) | IMAGE_SUFFIXES
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(
                Path(root, n)
                for n in sorted(names)
                if not n.startswith(".") and Path(n).suffix.lower() in wanted
            )
    return list(dict.fromkeys(found))
