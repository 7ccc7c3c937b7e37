"""What reaches Claude for an image: untouched when the API takes it as it is, else scaled."""

from __future__ import annotations

import io

from PIL import Image

from ingest.vision import MAX_LONG_EDGE_PIXELS, MAX_SENT_PIXELS, prepare_image
from tests.vision.conftest import image_bytes


def _size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def test_an_image_the_api_takes_as_it_is_is_sent_byte_for_byte() -> None:
    data = image_bytes("WEBP", "A small map.", size=(800, 600))

    prepared = prepare_image(data, "map.webp")

    assert prepared.media_type == "image/webp"
    assert prepared.data == data


def test_a_large_photo_is_scaled_to_what_claude_would_see_and_stays_jpeg() -> None:
    data = image_bytes("JPEG", None, size=(4000, 3000))

    prepared = prepare_image(data, "photo.jpg")

    assert prepared.media_type == "image/jpeg"
    assert _size_of(prepared.data) == (prepared.width, prepared.height) == (1264, 948)
    assert prepared.width * prepared.height <= MAX_SENT_PIXELS
    assert max(prepared.width, prepared.height) <= MAX_LONG_EDGE_PIXELS


def test_a_large_transparent_gif_becomes_a_png_that_keeps_its_transparency() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (2400, 300), (0, 0, 0, 0)).save(out, "GIF")

    prepared = prepare_image(out.getvalue(), "banner.gif")

    assert prepared.media_type == "image/png"
    with Image.open(io.BytesIO(prepared.data)) as image:
        assert image.size == (1568, 196)
        assert image.mode == "RGBA"
