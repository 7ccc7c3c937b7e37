"""Image sizes read from file headers, for the documented token estimate and for answers.

Claude bills an image at about width x height / 750 tokens after scaling it down so that its
long edge is at most 1568 pixels and it costs at most about 1,600 tokens.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from typing import Any

MAX_LONG_EDGE_PIXELS = 1568
MAX_IMAGE_TOKENS = 1_600
PIXELS_PER_TOKEN = 750
_JPEG_SIZE_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    offset = 2
    while offset + 9 < len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        length = struct.unpack(">H", data[offset + 2 : offset + 4])[0]
        if marker in _JPEG_SIZE_MARKERS:
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return width, height
        offset += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels from a PNG, GIF, JPEG or WebP header, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return _webp_size(data)
    return None


def decoded(source: dict[str, Any]) -> bytes:
    """The bytes of a base64 image source; empty when it is not base64 or not decodable."""
    if source.get("type") != "base64":
        return b""
    try:
        return base64.b64decode(str(source.get("data", "")), validate=False)
    except (binascii.Error, ValueError):
        return b""


def image_tokens(width: int, height: int) -> int:
    """The documented estimate, after the scale-down the API applies to large images."""
    scale = min(1.0, MAX_LONG_EDGE_PIXELS / max(width, height, 1))
    scale = min(scale, math.sqrt(MAX_IMAGE_TOKENS * PIXELS_PER_TOKEN / max(width * height, 1)))
    return max(1, math.ceil(width * scale * height * scale / PIXELS_PER_TOKEN))


def describe_image(source: dict[str, Any]) -> str:
    """One sentence about an image: what the emulator can say without seeing it."""
    kind = str(source.get("media_type", "image")).removeprefix("image/").upper()
    size = image_size(decoded(source))
    if size is None:
        return f"The image is a {kind} image whose pixels the offline emulator cannot read."
    return (
        f"The image is a {kind} image of {size[0]} by {size[1]} pixels; the offline emulator "
        "cannot read what it shows."
    )
