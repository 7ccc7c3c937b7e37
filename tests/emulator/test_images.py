from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

import anthropic

from tests.emulator.material import MODEL


def _png(width: int, height: int, description: str = "") -> str:
    """A real one-bit grayscale PNG of the given size, base64-encoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = (b"\x00" + b"\x00" * ((width + 7) // 8)) * height
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    if description:
        png += chunk(b"tEXt", b"Description\x00" + description.encode("latin-1"))
    png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


def _image_turn(
    width: int, height: int, question: str, description: str = ""
) -> list[dict[str, Any]]:
    data = _png(width, height, description)
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}
    return [{"role": "user", "content": [image, {"type": "text", "text": question}]}]


def test_images_cost_width_times_height_over_750_tokens(client: anthropic.Anthropic) -> None:
    def count(width: int, height: int) -> int:
        messages = _image_turn(width, height, "Describe it.")
        return client.messages.count_tokens(model=MODEL, messages=messages).input_tokens

    # The documented examples: 200x200 is about 54 tokens, 1000x1000 about 1334.
    assert count(1000, 1000) - count(200, 200) == 1334 - 54
    # Large images are scaled down first, so they all cost the cap of about 1,600 tokens.
    assert count(3000, 3000) == count(5000, 4000)
    assert count(3000, 3000) - count(200, 200) == 1600 - 54


def test_an_image_question_gets_what_can_be_said_without_seeing_it(
    client: anthropic.Anthropic,
) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=200, messages=_image_turn(640, 480, "What is in this image?")
    )
    assert "PNG image of 640 by 480 pixels" in message.content[0].text


def test_a_transcription_request_gets_the_text_the_image_carries(
    client: anthropic.Anthropic,
) -> None:
    turn = _image_turn(64, 64, "Transcribe this image.", description="Invoice 42: total 17 EUR")
    message = client.messages.create(model=MODEL, max_tokens=200, messages=turn)
    assert message.content[0].text == "Invoice 42: total 17 EUR"
