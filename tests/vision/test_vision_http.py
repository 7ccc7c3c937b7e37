"""Vision at ingest over real HTTP: images and scanned PDF pages transcribed by the emulator."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from api.emulator import EmulatorConfig
from tests.vision.conftest import (
    VIEWER,
    MessagesLog,
    documents,
    image_bytes,
    ingested,
    scanned_pdf_bytes,
    search,
    serve_strata,
    upload,
    vision_rows,
)

MODEL = "claude-sonnet-5-5"
LEGACY_MODEL = "claude-haiku-4-5"

IMAGES = [
    ("heron.png", "PNG", "image/png", "Grey heron invoice 4471 from Marsh Supplies."),
    ("kingfisher.jpg", "JPEG", "image/jpeg", "Kingfisher survey sheet for the Lune estuary."),
    ("avocet.webp", "WEBP", "image/webp", "Avocet nesting map of the Tagus saltpans."),
    ("puffin.gif", "GIF", "image/gif", "Puffin colony census poster from Skomer island."),
]


def _text_of(http: httpx.Client, document_id: str) -> str:
    detail: dict[str, Any] = http.get(f"/v1/documents/{document_id}", headers=VIEWER).json()
    return "\n".join(chunk["text"] for chunk in detail["chunks"])


def test_each_image_type_is_transcribed_searchable_and_billed_once_as_vision(
    http: httpx.Client, messages_log: MessagesLog
) -> None:
    before = len(vision_rows(http))
    files = [
        (name, image_bytes(image_format, text), "application/octet-stream")
        for name, image_format, _, text in IMAGES
    ]

    jobs = ingested(http, *files)

    assert [job["status"] for job in jobs] == ["done"] * len(IMAGES), jobs
    sent = {block["source"]["media_type"] for block in messages_log.images()}
    assert {media_type for _, _, media_type, _ in IMAGES} <= sent
    for job, (name, _, _, text) in zip(jobs, IMAGES, strict=True):
        best = search(http, text)[0]
        assert best["document_id"] == job["document_id"]
        assert best["source"] == name
        assert text in best["text"]
    rows = vision_rows(http)
    added = rows[: len(rows) - before]
    assert len(added) == len(IMAGES)
    for row in added:
        assert row["model"] == MODEL
        assert row["input_tokens"] > 0
        assert row["output_tokens"] > 0
        assert row["cost_usd"] > 0
        assert row["error"] is None


def test_re_uploading_an_image_makes_no_claude_call(
    http: httpx.Client, messages_log: MessagesLog
) -> None:
    data = image_bytes("PNG", "Spoonbill ringing record 88.")
    first = ingested(http, ("spoonbill.png", data, "image/png"))[0]
    calls, rows = len(messages_log.bodies), len(vision_rows(http))

    again = ingested(http, ("spoonbill.png", data, "image/png"))[0]
    renamed = ingested(http, ("copy-of-spoonbill.png", data, "image/png"))[0]

    assert first["status"] == again["status"] == renamed["status"] == "done"
    assert first["document_id"] == again["document_id"] == renamed["document_id"]
    assert len(messages_log.bodies) == calls
    assert len(vision_rows(http)) == rows


def test_an_image_larger_than_the_api_takes_is_scaled_down_before_claude_sees_it(
    http: httpx.Client, messages_log: MessagesLog
) -> None:
    wide = image_bytes("PNG", "Wide panorama of the Wash.", size=(9000, 600))

    job = ingested(http, ("panorama.png", wide, "image/png"))[0]

    assert job["status"] == "done", job
    sent = messages_log.images()[-1]["source"]
    with Image.open(io.BytesIO(base64.b64decode(sent["data"]))) as image:
        assert image.size == (1568, 104)
    assert "PNG image of 1568 by 104 pixels" in _text_of(http, job["document_id"])


def test_an_image_over_the_api_5_mb_limit_is_re_encoded_and_transcribed(
    http: httpx.Client, messages_log: MessagesLog
) -> None:
    # Noise with an alpha channel: 1000 x 1000 fits the API's size but not its 5 MB.
    noise = Image.frombytes("RGBA", (1000, 1000), os.urandom(4_000_000))
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert len(base64.b64encode(out.getvalue())) > 5 * 1024 * 1024

    job = ingested(http, ("noise.png", out.getvalue(), "image/png"))[0]

    assert job["status"] == "done", job
    sent = messages_log.images()[-1]["source"]
    assert sent["media_type"] == "image/jpeg"
    assert len(sent["data"]) <= 5 * 1024 * 1024


def _truncated_png() -> bytes:
    data = image_bytes("PNG", "Half an image.", size=(300, 300))
    return data[: len(data) // 2]


def _bomb_png() -> bytes:
    # 64 megapixels of one-bit zeros deflate to a few kilobytes.
    out = io.BytesIO()
    Image.new("1", (8000, 8000)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "status", "kind", "message"),
    [
        ("torn.png", _truncated_png, 415, "unsupported_document", "not a readable PNG image"),
        ("bomb.png", _bomb_png, 413, "too_large", "megapixel limit"),
        (
            "notes.txt",
            lambda: image_bytes("JPEG", None),
            415,
            "unsupported_document",
            "claims to be text/plain but its bytes are a JPEG image",
        ),
        (
            "photo.webp",
            lambda: b"Words in a file that says it is a picture.",
            415,
            "unsupported_document",
            "claims to be an image",
        ),
    ],
)
def test_a_bad_image_gets_a_clear_4xx_nothing_is_kept_and_claude_is_not_called(
    http: httpx.Client,
    messages_log: MessagesLog,
    name: str,
    make: object,
    status: int,
    kind: str,
    message: str,
) -> None:
    assert callable(make)
    before, calls = documents(http), len(messages_log.bodies)

    response = upload(http, (name, make(), "application/octet-stream"))

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == kind
    assert message in error["message"]
    assert documents(http) == before
    assert len(messages_log.bodies) == calls


def test_a_pdf_page_without_a_text_layer_is_transcribed_and_the_text_page_read_as_usual(
    http: httpx.Client, messages_log: MessagesLog
) -> None:
    rows = len(vision_rows(http))
    pdf = scanned_pdf_bytes(text_page="Curlew counts rose along the Dee in autumn.")

    job = ingested(http, ("survey.pdf", pdf, "application/pdf"))[0]

    assert job["status"] == "done", job
    sent = messages_log.images()[-1]
    assert sent["type"] == "document"
    assert sent["source"]["media_type"] == "application/pdf"
    detail = http.get(f"/v1/documents/{job['document_id']}", headers=VIEWER).json()
    pages = {chunk["page"]: chunk["text"] for chunk in detail["chunks"]}
    assert "The page is a PDF document" in pages[1]
    assert "Curlew counts rose along the Dee" in pages[2]
    assert len(vision_rows(http)) == rows + 1


def test_a_pdf_with_more_scanned_pages_than_allowed_fails_before_any_call(
    http: httpx.Client, messages_log: MessagesLog
) -> None:
    pages = io.BytesIO()
    pictures = [Image.new("RGB", (50, 50), (i * 60, 0, 0)) for i in range(3)]
    pictures[0].save(pages, "PDF", save_all=True, append_images=pictures[1:])
    calls = len(messages_log.bodies)

    job = ingested(http, ("scanned-book.pdf", pages.getvalue(), "application/pdf"))[0]

    assert job["status"] == "failed"
    assert "3 pages without a text layer" in job["error"]
    assert "STRATA_MAX_VISION_PAGES" in job["error"]
    assert len(messages_log.bodies) == calls


@pytest.fixture(scope="module")
def refusing_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """Strata whose Claude refuses every image: the emulator takes no body over 1 kB."""
    home = tmp_path_factory.mktemp("refusing") / "home"
    yield from serve_strata(home, EmulatorConfig(max_request_bytes=1_000), MessagesLog())


def test_a_failed_transcription_fails_that_file_alone_with_a_clear_error(
    refusing_http: httpx.Client,
) -> None:
    text = b"# Terns\n\nArctic terns fly from pole to pole every year."

    image_job, text_job = ingested(
        refusing_http,
        ("tern.png", image_bytes("PNG", "Tern ringing chart."), "image/png"),
        ("terns.md", text, "text/markdown"),
    )

    assert image_job["status"] == "failed"
    assert "vision transcription of tern.png failed" in image_job["error"]
    assert "413" in image_job["error"]
    assert text_job["status"] == "done"
    assert [d["source"] for d in documents(refusing_http)] == ["terns.md"]
    [row] = vision_rows(refusing_http)
    assert "tern.png" in row["error"]


@pytest.fixture(scope="module")
def legacy_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """Strata whose images are transcribed by a legacy model."""
    home = tmp_path_factory.mktemp("legacy") / "home"
    yield from serve_strata(home, EmulatorConfig(), MessagesLog(), vision_model=LEGACY_MODEL)


def test_a_legacy_vision_model_transcribes_and_is_billed_at_its_own_price(
    legacy_http: httpx.Client,
) -> None:
    text = "Dunlin flock tally, winter."

    job = ingested(legacy_http, ("dunlin.jpg", image_bytes("JPEG", text), "image/jpeg"))[0]

    assert job["status"] == "done", job
    assert text in search(legacy_http, text)[0]["text"]
    [row] = vision_rows(legacy_http)
    assert row["model"] == LEGACY_MODEL
    assert row["cost_usd"] > 0
