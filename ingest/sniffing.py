"""Decide what a file is from its bytes, and refuse it when its name or declared type lies."""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePath

from rag.errors import DocumentTooLarge, EmptyDocument, UnsupportedDocument

TEXT, MARKDOWN, HTML = "text/plain", "text/markdown", "text/html"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

MEDIA_TYPE_BY_SUFFIX = {
    ".txt": TEXT,
    ".text": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".pdf": PDF,
    ".docx": DOCX,
}
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})
# Images go to Claude vision; these are the four types the API accepts.
IMAGE_MEDIA_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WebP": "image/webp",
}
_TEXT_FAMILY = frozenset({TEXT, MARKDOWN, HTML})
_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
# A zip entry that inflates more than this many times its packed size is treated as a bomb;
# Word's XML packs about 5-20x.
_MAX_INFLATE_RATIO = 200
# The body of a Word document is parsed whole into an XML tree of about ten times its size; a
# thousand-page report's body is some 15 MB. A larger one (a bomb that stays under the ratio
# by packing varied text) would take gigabytes to parse.
MAX_DOCX_BODY_BYTES = 32 * 1024 * 1024
_DOCX_BODY = "word/document.xml"
_SUPPORTED = (
    "plain text (.txt), Markdown (.md), HTML (.html), PDF (.pdf), Word (.docx) and images "
    "(.png, .jpg, .webp, .gif)"
)


def image_kind(data: bytes) -> str | None:
    """PNG, JPEG, GIF or WebP when the bytes start like one of those images, else None."""
    for signature, kind in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None


def check_docx_archive(data: bytes, name: str, max_unpacked_bytes: int) -> None:
    """Refuse a DOCX that is not a Word archive or would inflate past the limit (a zip bomb).

    Only the archive's directory is read; nothing is decompressed.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnsupportedDocument(f"{name} is not a readable Word document: {exc}") from exc
    body = next((e for e in entries if e.filename == _DOCX_BODY), None)
    if body is None:
        raise UnsupportedDocument(f"{name} is a ZIP archive but not a Word (.docx) document")
    if body.file_size > MAX_DOCX_BODY_BYTES:
        raise DocumentTooLarge(
            f"{name} has a {body.file_size:,}-byte document body, over the "
            f"{MAX_DOCX_BODY_BYTES:,}-byte limit a Word document's body may unpack to"
        )
    unpacked = sum(e.file_size for e in entries)
    if unpacked > max_unpacked_bytes:
        raise DocumentTooLarge(
            f"{name} would unpack to {unpacked:,} bytes, over the {max_unpacked_bytes:,}-byte limit"
        )
    for entry in entries:
        if entry.file_size > 1_000_000 and entry.file_size > _MAX_INFLATE_RATIO * max(
            entry.compress_size, 1
        ):
            raise DocumentTooLarge(
                f"{name} looks like a zip bomb: {entry.filename} inflates "
                f"{entry.file_size // max(entry.compress_size, 1)}x"
            )


def _sniff(data: bytes) -> str | None:
    if b"%PDF-" in data[:1024]:
        return PDF
    if data.startswith(b"PK\x03\x04"):
        return DOCX
    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return TEXT
    if b"\x00" in data[:8192]:
        return None
    return TEXT


def _claimed(name: str, declared_type: str | None) -> str | None:
    suffix = PurePath(name).suffix.lower()
    if suffix in MEDIA_TYPE_BY_SUFFIX:
        return MEDIA_TYPE_BY_SUFFIX[suffix]
    if suffix in IMAGE_SUFFIXES:
        raise UnsupportedDocument(f"{name} claims to be an image but its bytes are not one")
    if suffix:
        raise UnsupportedDocument(f"{name}: {suffix} files are not supported; send {_SUPPORTED}")
    declared = (declared_type or "").split(";")[0].strip().lower()
    return declared if declared in _TEXT_FAMILY | {PDF, DOCX} else None


def _family(media_type: str) -> str:
    return "text" if media_type in _TEXT_FAMILY else media_type


def media_type_of(data: bytes, name: str, declared_type: str | None = None) -> str:
    """The media type of a file, from its bytes; its name and declared type must agree.

    Raises EmptyDocument for no bytes and UnsupportedDocument for unknown binary formats and
    files whose bytes contradict their name or declared type. Any image suffix or image/*
    type fits any of the four image types: the bytes decide which one is sent.
    """
    if not data.strip():
        raise EmptyDocument(f"{name} is empty")
    image = image_kind(data)
    if image:
        named_image = PurePath(name).suffix.lower() in IMAGE_SUFFIXES
        claimed = None if named_image else _claimed(name, declared_type)
        declared = (declared_type or "").split(";")[0].strip().lower()
        for claim in (claimed, declared if declared in _TEXT_FAMILY | {PDF, DOCX} else None):
            if claim:
                raise UnsupportedDocument(
                    f"{name} claims to be {claim} but its bytes are a {image} image"
                )
        return IMAGE_MEDIA_TYPES[image]
    claimed = _claimed(name, declared_type)
    sniffed = _sniff(data)
    if sniffed is None:
        raise UnsupportedDocument(f"{name} is a binary file of an unknown type; send {_SUPPORTED}")
    declared = (declared_type or "").split(";")[0].strip().lower()
    for claim in (claimed, declared if declared in _TEXT_FAMILY | {PDF, DOCX} else None):
        if claim and _family(claim) != _family(sniffed):
            what = {PDF: "a PDF", DOCX: "a Word document"}.get(sniffed, "text")
            raise UnsupportedDocument(f"{name} claims to be {claim} but its bytes are {what}")
    if sniffed == TEXT:
        if claimed in _TEXT_FAMILY:
            return claimed
        head = data[:512].lstrip().lower()
        return HTML if head.startswith((b"<!doctype html", b"<html")) else TEXT
    return sniffed
