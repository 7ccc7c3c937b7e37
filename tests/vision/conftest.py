"""Fixtures for vision at ingest: the app over real HTTP, Claude calls to a watched emulator."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, PngImagePlugin
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from api.app import create_app
from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import serve_in_thread
from rag.settings import Settings
from tests.jobs import wait_for_job

ADMIN = {"Authorization": "Bearer admin-secret-0123456789"}
USER = {"Authorization": "Bearer user-secret-0123456789"}
VIEWER = {"Authorization": "Bearer viewer-secret-0123456789"}
EXIF_IMAGE_DESCRIPTION = 0x010E


class MessagesLog:
    """The bodies of the POST /v1/messages calls the emulator received, in order."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, body: bytes) -> None:
        with self._lock:
            self.bodies.append(json.loads(body))

    def images(self) -> list[dict[str, Any]]:
        """Every image or document block sent, in order."""
        with self._lock:
            bodies = list(self.bodies)
        return [
            block
            for body in bodies
            for message in body["messages"]
            for block in message["content"]
            if isinstance(block, dict) and block.get("type") in ("image", "document")
        ]


def _watched(app: Any, log: MessagesLog) -> Any:
    async def wrapper(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/messages":
            await app(scope, receive, send)
            return
        body = bytearray()

        async def receiving() -> Any:
            message = await receive()
            body.extend(message.get("body", b""))
            if message["type"] == "http.request" and not message.get("more_body"):
                log.add(bytes(body))
            return message

        await app(scope, receiving, send)

    return wrapper


def serve_strata(
    home: Path, emulator: EmulatorConfig, log: MessagesLog, **overrides: Any
) -> Iterator[httpx.Client]:
    """Strata on a real port, its Claude calls going to an emulator that log records."""
    with serve_in_thread(_watched(create_emulator(emulator), log)) as emulator_url:
        settings = Settings(
            home=home,
            api_keys="admin-secret-0123456789:admin,user-secret-0123456789:user,viewer-secret-0123456789:viewer",
            anthropic_base_url=emulator_url,
            claude_max_attempts=1,
            max_vision_pages=2,
            _env_file=None,
            **overrides,
        )
        with (
            serve_in_thread(create_app(settings)) as url,
            httpx.Client(base_url=url, timeout=60) as client,
        ):
            yield client


@pytest.fixture(scope="module")
def messages_log() -> MessagesLog:
    return MessagesLog()


@pytest.fixture(scope="module")
def http(
    tmp_path_factory: pytest.TempPathFactory, messages_log: MessagesLog
) -> Iterator[httpx.Client]:
    home = tmp_path_factory.mktemp("vision") / "home"
    yield from serve_strata(home, EmulatorConfig(), messages_log)


def upload(http: httpx.Client, *files: tuple[str, bytes, str]) -> httpx.Response:
    return http.post("/v1/documents", files=[("files", f) for f in files], headers=ADMIN)


def finished(http: httpx.Client, job_id: str, timeout_seconds: float = 120) -> dict[str, Any]:
    return wait_for_job(http, job_id, timeout_seconds, ADMIN)


def ingested(http: httpx.Client, *files: tuple[str, bytes, str]) -> list[dict[str, Any]]:
    """Upload files and wait for each job to end; returns the finished jobs in order."""
    response = upload(http, *files)
    assert response.status_code == 202, response.text
    return [finished(http, job["id"]) for job in response.json()["jobs"]]


def vision_rows(http: httpx.Client) -> list[dict[str, Any]]:
    response = http.get(
        "/v1/usage/requests", params={"feature": "vision", "limit": 200}, headers=VIEWER
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["requests"]
    return rows


def documents(http: httpx.Client) -> list[dict[str, Any]]:
    response = http.get("/v1/documents", headers=VIEWER)
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()["documents"]
    return found


def search(http: httpx.Client, query: str, top_k: int = 3) -> list[dict[str, Any]]:
    response = http.post("/v1/search", json={"query": query, "top_k": top_k}, headers=USER)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def image_bytes(
    image_format: str, description: str | None, size: tuple[int, int] = (320, 200)
) -> bytes:
    """A real image in image_format that carries description where that format keeps text."""
    image = Image.new("RGB", size, (200, 220, 240))
    out = io.BytesIO()
    if description is None:
        image.save(out, image_format)
    elif image_format == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Description", description)
        image.save(out, "PNG", pnginfo=info)
    elif image_format == "GIF":
        image.save(out, "GIF", comment=description.encode())
    else:
        exif = Image.Exif()
        exif[EXIF_IMAGE_DESCRIPTION] = description
        image.save(out, image_format, exif=exif)
    return out.getvalue()


def scanned_pdf_bytes(text_page: str | None = None) -> bytes:
    """A PDF whose first page is only a picture (no text layer), then maybe a page of text."""
    picture = Image.new("RGB", (400, 300), (30, 60, 90))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=LETTER, invariant=1)
    pdf.drawImage(ImageReader(picture), 72, 400, width=400, height=300)
    pdf.showPage()
    if text_page is not None:
        pdf.drawString(72, 700, text_page)
        pdf.showPage()
    pdf.save()
    return out.getvalue()
