"""Deterministic transcriptions for requests that ask to transcribe an image or a PDF.

The emulator cannot see pixels. It reads what a file says about itself: the text an image
carries (a PNG `Description`, `Comment` or `Title` text chunk, an EXIF ImageDescription, a JPEG
or GIF comment), and otherwise says plainly what the file is, by format and size.
"""

from __future__ import annotations

import io
import re
from typing import Any

from PIL import Image

from api.emulator.images import decoded, describe_image
from api.emulator.prompt import text_blocks

_ASKED = re.compile(r"\btranscribe\b", re.IGNORECASE)
_TEXT_KEYS = ("Description", "Comment", "Title", "comment", "description")
_EXIF_IMAGE_DESCRIPTION = 0x010E


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return value.strip().strip("\x00").strip() if isinstance(value, str) else ""


def embedded_text(data: bytes) -> str:
    """The text an image file carries about itself, or "" when it carries none."""
    try:
        # Only the header and metadata are read; no pixel is decoded.
        with Image.open(io.BytesIO(data)) as image:
            found = [_as_text(image.info.get(key)) for key in _TEXT_KEYS]
            found.append(_as_text(image.getexif().get(_EXIF_IMAGE_DESCRIPTION)))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        # What Pillow raises on damaged or hostile files: such an image carries no text.
        return ""
    return "\n".join(dict.fromkeys(text for text in found if text))


def _transcribe(block: dict[str, Any]) -> str | None:
    source = block.get("source") or {}
    if block.get("type") == "image":
        text = embedded_text(decoded(source))
        return text or describe_image(source)
    if block.get("type") == "document" and source.get("media_type") == "application/pdf":
        size = len(decoded(source))
        return (
            f"The page is a PDF document of {size} bytes; the offline emulator cannot read "
            "what it shows."
        )
    return None


def transcription(messages: list[dict[str, Any]]) -> tuple[str, ...] | None:
    """One transcription per image or PDF of the last user turn, when its text asks for them."""
    if not messages or messages[-1].get("role") != "user":
        return None
    blocks = text_blocks(messages[-1].get("content"))
    asked = any(
        block.get("type") == "text" and _ASKED.search(str(block.get("text", "")))
        for block in blocks
    )
    if not asked:
        return None
    found = tuple(text for text in map(_transcribe, blocks) if text is not None)
    return found or None
