"""Parse a PDF or Word file in a child process with memory and time limits.

A decompression bomb, or a page built to be slow to read, then fails its own job with a clear
error while the server's memory stays bounded and other files go on. The child reads a JSON
header line and the file's bytes on stdin and writes the Document as JSON on stdout. It never
calls Claude: when a PDF has pages that need vision, it says so, and the parent (which holds
the Claude client) parses the file again in-process, now known to parse within the limits.

Other formats are parsed in-process: text, Markdown and HTML cost time linear in their size
(bounded by the upload limit), and images are checked for decompression bombs by Pillow.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import PurePath
from typing import Any

from ingest.loaders import Transcriber, load_document
from ingest.sniffing import DOCX, PDF, media_type_of
from rag import errors
from rag.types import Document, Section

_ISOLATED = frozenset({PDF, DOCX})


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """What one file's parse may use: address space in bytes, and wall-clock seconds."""

    memory_bytes: int
    timeout_seconds: float


def load_isolated(
    data: bytes,
    source: str,
    declared_type: str | None,
    max_unpacked_bytes: int,
    vision: Transcriber | None,
    limits: ParseLimits,
) -> Document:
    """load_document, with PDF and DOCX parsed in a child process under limits."""
    name = PurePath(source).name or source
    if media_type_of(data, name, declared_type) not in _ISOLATED:
        return load_document(data, source, declared_type, max_unpacked_bytes, vision)
    header = {
        "source": source,
        "declared_type": declared_type,
        "max_unpacked_bytes": max_unpacked_bytes,
        "vision_pages": vision.max_pages if vision is not None else None,
        "memory_bytes": limits.memory_bytes,
    }
    command = [sys.executable, "-m", "ingest.sandbox"]
    stdin = json.dumps(header).encode() + b"\n" + data
    try:
        done = subprocess.run(
            command, input=stdin, capture_output=True, timeout=limits.timeout_seconds, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise errors.DocumentTooLarge(
            f"{name} took over {limits.timeout_seconds:g} s to parse and was stopped "
            "(STRATA_PARSE_TIMEOUT_SECONDS)"
        ) from exc
    result = _result(done)
    if result is None:
        # Out of address space, C code may abort instead of raising MemoryError.
        raise errors.DocumentTooLarge(
            f"{name} could not be parsed within {limits.memory_bytes:,} bytes of memory "
            f"(STRATA_PARSE_MEMORY_BYTES): the parser stopped ({_stopped(done)})"
        )
    if "error" in result:
        raise _error(result["error"], result["message"])
    if result["needs_vision"] and vision is not None:
        return load_document(data, source, declared_type, max_unpacked_bytes, vision)
    return _document(result["document"])


def _result(done: subprocess.CompletedProcess[bytes]) -> dict[str, Any] | None:
    if done.returncode != 0:
        return None
    try:
        result: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        return None
    return result


def _stopped(done: subprocess.CompletedProcess[bytes]) -> str:
    if done.returncode < 0:
        return f"signal {-done.returncode}"
    last = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
    return f"exit status {done.returncode}: {last[0][:200]}"


def _error(kind: str, message: str) -> errors.InvalidInput:
    """The InvalidInput subclass the child raised, by name; InvalidInput if unknown."""
    found = getattr(errors, kind, None)
    if isinstance(found, type) and issubclass(found, errors.InvalidInput):
        return found(message)
    return errors.InvalidInput(message)


def _document(fields: dict[str, Any]) -> Document:
    sections = tuple(
        Section(s["text"], tuple(s["heading_path"]), s["page"], s["kind"])
        for s in fields.pop("sections")
    )
    return Document(**fields, sections=sections)


# What the child puts where a transcription would go, so a PDF of scanned pages only is not
# taken for an empty one; the parent parses such a file again with vision.
_PLACEHOLDER = "(transcribed by vision)"


class _PageCounter:
    """Stands in for vision in the child: counts the pages that would need it, calls nothing."""

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages
        self.pages = 0

    def transcribe_image(self, image: Any, name: str) -> str:
        self.pages += 1
        return _PLACEHOLDER

    def transcribe_pdf_page(self, page_pdf: bytes, name: str, page: int) -> str:
        self.pages += 1
        return _PLACEHOLDER


def _used_most_of(memory_bytes: int) -> bool:
    """True when this process's peak resident size passed half of memory_bytes."""
    return _peak_resident_bytes() > memory_bytes // 2


def _peak_resident_bytes() -> int:
    """The peak resident size of this program, from /proc where there is one.

    getrusage's figure also keeps the parent's size at the fork: a parent with the embedding
    model loaded is past half the limit already, and every damaged file would be reported as
    out of memory.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _out_of_memory(source: str, memory_bytes: int) -> dict[str, Any]:
    return {
        "error": "DocumentTooLarge",
        "message": f"{PurePath(source).name} needs more than {memory_bytes:,} bytes of memory "
        "to parse (STRATA_PARSE_MEMORY_BYTES)",
    }


def _child() -> None:
    stdin = sys.stdin.buffer
    header = json.loads(stdin.readline())
    memory = header["memory_bytes"]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    data = stdin.read()
    counter = _PageCounter(header["vision_pages"] or 0)
    try:
        document = load_document(
            data,
            header["source"],
            header["declared_type"],
            header["max_unpacked_bytes"],
            counter if header["vision_pages"] is not None else None,
        )
        result: dict[str, Any] = {"document": asdict(document), "needs_vision": counter.pages > 0}
    except errors.InvalidInput as exc:
        result = {"error": type(exc).__name__, "message": str(exc)}
        # Out of memory, lxml reports a parse error ("unknown error"): name the real cause.
        if _used_most_of(memory) and not isinstance(exc, errors.DocumentTooLarge):
            result = _out_of_memory(header["source"], memory)
    except MemoryError:
        result = _out_of_memory(header["source"], memory)
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    _child()
