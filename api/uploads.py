"""Receive a multipart upload by streaming each file to disk, stopping at the size limit.

The body is parsed as it arrives (python-multipart's push parser), so a file over the limit is
never held whole in memory or on disk, and files land under the uploads folder with generated
names: the name the client sent is only ever a label.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BufferedWriter
from pathlib import Path, PurePosixPath, PureWindowsPath

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from rag.errors import DocumentTooLarge, InvalidInput, UnsupportedDocument

FIELD = "files"
_MAX_NAME_CHARS = 200
# Room for the multipart boundaries and part headers around the files themselves.
_ENVELOPE_BYTES = 64 * 1024
# A file part needs two headers (Content-Disposition, Content-Type) of a few hundred bytes.
# The parser refuses more headers, or a longer header line, than these; a body of endless
# headers or of tiny parts, cheap to send and costly to parse, is refused early.
MAX_PART_HEADERS = 8
MAX_PART_HEADER_BYTES = 4096
# Parts that are not files (other form fields) are read and ignored, up to this many.
_MAX_OTHER_PARTS = 16

PathFactory = Callable[[], Path]
# A folder kept in an upload's name: letters, digits and a few marks, never `.`/`..` or hidden.
_PLAIN_FOLDER = re.compile(r"[^\W_.][\w .+@()-]*", re.UNICODE)


def safe_filename(raw: str) -> str:
    """A display name for an uploaded file: no control characters, bounded.

    A relative path of plain names (`docs/guide/setup.md`, as `strata ingest` sends) is kept,
    so files of the same name in different folders stay apart; anything else (`..`, a leading
    `/`, a backslash, a drive, a hidden folder) loses its folders.
    """
    name = unicodedata.normalize("NFC", raw)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    *folders, base = name.split("/")
    if folders and len(name) <= _MAX_NAME_CHARS and all(map(_PLAIN_FOLDER.fullmatch, folders)):
        return "/".join([*folders, safe_filename(base)])
    name = PureWindowsPath(PurePosixPath(name.replace("\\", "/")).name).name
    name = name.strip().lstrip(".").strip()
    if len(name) > _MAX_NAME_CHARS:
        stem, dot, suffix = name.rpartition(".")
        keep = _MAX_NAME_CHARS - len(suffix) - 1
        name = f"{stem[:keep]}.{suffix}" if dot and len(suffix) <= 10 else name[:_MAX_NAME_CHARS]
    return name or "upload"


@dataclass(slots=True)
class ReceivedFile:
    """One file part of the upload: where it was written, or why it was refused."""

    filename: str
    declared_type: str | None
    path: Path
    size_bytes: int = 0
    error: InvalidInput | None = None
    _pending: list[bytes] = field(default_factory=list)
    _file: BufferedWriter | None = None


class _Receiver:
    def __init__(self, new_path: PathFactory, max_file_bytes: int, max_files: int) -> None:
        self.new_path = new_path
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self.files: list[ReceivedFile] = []
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._current: ReceivedFile | None = None
        self._parts = 0

    def on_part_begin(self) -> None:
        self._headers = {}
        self._current = None
        self._parts += 1
        if self._parts > self.max_files + _MAX_OTHER_PARTS:
            raise InvalidInput(
                f"too many parts: at most {self.max_files} files and {_MAX_OTHER_PARTS} "
                "other fields per upload"
            )

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        key = self._field.lower()
        self._headers[key] = self._headers.get(key, b"") + data[start:end]

    def on_header_end(self) -> None:
        self._field = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") != FIELD.encode() or b"filename" not in options:
            return
        if len(self.files) >= self.max_files:
            raise InvalidInput(f"too many files: at most {self.max_files} per upload")
        declared = self._headers.get(b"content-type", b"").decode("latin-1").strip() or None
        raw_name = options[b"filename"].decode("utf-8", errors="replace")
        self._current = ReceivedFile(safe_filename(raw_name), declared, self.new_path())
        self.files.append(self._current)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current
        if part is None or part.error is not None:
            return
        part.size_bytes += end - start
        if part.size_bytes > self.max_file_bytes:
            part.error = DocumentTooLarge(
                f"{part.filename} is over the {self.max_file_bytes:,}-byte upload limit"
            )
            part._pending.clear()
            return
        part._pending.append(data[start:end])

    def on_part_end(self) -> None:
        self._current = None


async def _flush(files: list[ReceivedFile]) -> None:
    """Write what the parser buffered to each file's path, off the event loop."""
    for received in files:
        if received.error is not None:
            if received._file is not None:
                await asyncio.to_thread(received._file.close)
                received._file = None
            await asyncio.to_thread(received.path.unlink, missing_ok=True)
            continue
        if received._file is None:
            received._file = await asyncio.to_thread(received.path.open, "wb")
        if received._pending:
            data = b"".join(received._pending)
            received._pending.clear()
            await asyncio.to_thread(received._file.write, data)


async def receive_files(
    request: Request, new_path: PathFactory, max_file_bytes: int, max_files: int
) -> list[ReceivedFile]:
    """Stream the `files` parts of a multipart request to paths from new_path."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise UnsupportedDocument("send the files as multipart/form-data, in fields named files")
    limit = max_files * max_file_bytes + _ENVELOPE_BYTES
    declared_length = request.headers.get("content-length", "")
    if declared_length.isdigit() and int(declared_length) > limit:
        raise DocumentTooLarge(f"the upload is over the {limit:,}-byte request limit")
    receiver = _Receiver(new_path, max_file_bytes, max_files)
    parser = MultipartParser(
        options[b"boundary"],
        _callbacks(receiver),  # type: ignore[arg-type]
        max_header_count=MAX_PART_HEADERS,
        max_header_size=MAX_PART_HEADER_BYTES,
    )
    received_bytes = 0
    try:
        async for chunk in request.stream():
            received_bytes += len(chunk)
            if received_bytes > limit:
                raise DocumentTooLarge(f"the upload is over the {limit:,}-byte request limit")
            parser.write(chunk)
            await _flush(receiver.files)
        parser.finalize()
    except MultipartParseError as exc:
        await _discard(receiver.files)
        if str(exc).startswith("Maximum header"):
            raise InvalidInput(
                f"a part's headers are over the limit of {MAX_PART_HEADERS} headers of "
                f"{MAX_PART_HEADER_BYTES:,} bytes: {exc}"
            ) from exc
        raise InvalidInput(f"malformed multipart body: {exc}") from exc
    except BaseException:
        await _discard(receiver.files)
        raise
    finally:
        for received in receiver.files:
            if received._file is not None:
                await asyncio.to_thread(received._file.close)
                received._file = None
    if not receiver.files:
        raise InvalidInput(f"no files: send one or more multipart fields named {FIELD}")
    return receiver.files


def _callbacks(receiver: _Receiver) -> dict[str, object]:
    names = (
        "on_part_begin",
        "on_header_field",
        "on_header_value",
        "on_header_end",
        "on_headers_finished",
        "on_part_data",
        "on_part_end",
    )
    return {name: getattr(receiver, name) for name in names}


async def _discard(files: list[ReceivedFile]) -> None:
    for received in files:
        if received._file is not None:
            await asyncio.to_thread(received._file.close)
            received._file = None
        await asyncio.to_thread(received.path.unlink, missing_ok=True)
