"""Vision at ingest: images checked, bounded and downscaled, then transcribed by Claude.

An image (PNG, JPEG, WebP or GIF, told by its bytes) is decoded once to prove it is whole,
after a size check that refuses decompression bombs before any pixel is decoded. Claude
scales an image down to a long edge of 1568 px and about 1,600 tokens anyway, so a larger one
is scaled to that size here: the same tokens are billed, the upload is smaller, and the API's
8000 px and 5 MB limits are never reached. A PDF page without a text layer goes to Claude as a
one-page PDF document. Each transcription is one call, recorded in the ledger as `vision`.
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from PIL import Image

from rag.errors import DocumentTooLarge, UnsupportedDocument, UpstreamError
from rag.llm import CallMeter, Claude, ClaudeRequest
from rag.models import model_info
from rag.tracing import NO_TRACING, Tracing
from rag.types import CallRecord, Feature

MEDIA_TYPE_BY_FORMAT = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
# The API's own scale-down bounds (reference api-features.md 5.2): larger images cost no more.
MAX_LONG_EDGE_PIXELS = 1568
MAX_SENT_PIXELS = 1_600 * 750
# The API refuses an image whose base64 form exceeds 5 MB.
MAX_BASE64_BYTES = 5 * 1024 * 1024
# Decoding costs about 4 bytes a pixel: 50 MP is 200 MB, the most one upload may hold in memory.
# A JPEG is decoded at 1/2, 1/4 or 1/8 scale when that suffices, so larger photos still pass.
MAX_DECODED_PIXELS = 50_000_000
_MAX_TRANSCRIPT_TOKENS = 4096
_SYSTEM = "You transcribe images and scanned pages for a search index."
_INSTRUCTION = (
    "Transcribe this {what} for a search index. First write out every piece of text in it, "
    "verbatim and in reading order: headings as Markdown headings, tables as Markdown tables, "
    "lists as lists. Then add one short paragraph describing what it shows (photos, charts, "
    "diagrams), with the names and figures that appear. Write only the transcription."
)


@dataclass(frozen=True, slots=True)
class VisionImage:
    """An image ready for Claude: bytes within the API's limits, its type and its size."""

    media_type: str
    data: bytes
    width: int
    height: int


def _fitted(width: int, height: int) -> tuple[int, int]:
    """The size Claude would scale the image to: long edge <= 1568 px, <= ~1,600 tokens."""
    scale = min(1.0, MAX_LONG_EDGE_PIXELS / max(width, height, 1))
    scale = min(scale, math.sqrt(MAX_SENT_PIXELS / max(width * height, 1)))
    # Rounded down (past float noise), so neither bound is crossed by a pixel.
    return max(1, math.floor(width * scale + 1e-6)), max(1, math.floor(height * scale + 1e-6))


def _decoded(data: bytes, name: str, kind: str) -> tuple[Image.Image, str, tuple[int, int]]:
    """The decoded image (at reduced scale for a large JPEG), its format and original size."""
    try:
        image = Image.open(io.BytesIO(data), formats=tuple(MEDIA_TYPE_BY_FORMAT))
        original = image.size
        if image.format == "JPEG":
            image.draft(None, _fitted(*original))
        if image.size[0] * image.size[1] > MAX_DECODED_PIXELS:
            raise DocumentTooLarge(
                f"{name} is {original[0]} x {original[1]} pixels, over the "
                f"{MAX_DECODED_PIXELS // 1_000_000} megapixel limit for images"
            )
        image.load()
    except Image.DecompressionBombError as exc:
        raise DocumentTooLarge(f"{name} is too many pixels to decode safely: {exc}") from exc
    except DocumentTooLarge:
        raise
    except Exception as exc:
        # Pillow raises many kinds of error on damaged files; each means the same to the user.
        raise UnsupportedDocument(f"{name} is not a readable {kind} image: {exc}") from exc
    return image, str(image.format), original


def _encoded(image: Image.Image, source_format: str) -> tuple[str, bytes]:
    """A photo stays JPEG; anything else becomes PNG (sharp text), or JPEG if that is over 5 MB."""
    if source_format != "JPEG":
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        out = io.BytesIO()
        image.convert("RGBA" if has_alpha else "RGB").save(out, "PNG", optimize=True)
        if 4 * math.ceil(out.tell() / 3) <= MAX_BASE64_BYTES:
            return "image/png", out.getvalue()
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=88)
    return "image/jpeg", out.getvalue()


def prepare_image(data: bytes, name: str, kind: str = "") -> VisionImage:
    """Check an image and bring it within the API's limits; raises InvalidInput subclasses.

    kind is the format its bytes were sniffed as, for messages; the format Pillow finds wins.
    """
    image, image_format, (width, height) = _decoded(data, name, kind or "image")
    with image:
        target = _fitted(width, height)
        if target == (width, height) and 4 * math.ceil(len(data) / 3) <= MAX_BASE64_BYTES:
            return VisionImage(MEDIA_TYPE_BY_FORMAT[image_format], data, width, height)
        with image.resize(target, Image.Resampling.LANCZOS) as scaled:
            media_type, encoded = _encoded(scaled, image_format)
        return VisionImage(media_type, encoded, *target)


class _Ledger(Protocol):
    def record(self, record: CallRecord) -> None: ...


class VisionTranscriber:
    """Transcribes images and text-less PDF pages with Claude, one ledger row per call.

    The ingest pipeline runs in a worker thread; the Claude client belongs to the event loop
    it was opened on, so each call is handed to that loop and waited for.
    """

    def __init__(
        self,
        claude: Claude,
        ledger: _Ledger,
        model: str,
        loop: asyncio.AbstractEventLoop,
        max_pages: int,
        tracing: Tracing = NO_TRACING,
    ) -> None:
        self.claude = claude
        self.tracing = tracing
        self.ledger = ledger
        self.model = model_info(model)
        self.loop = loop
        self.max_pages = max_pages

    def transcribe_image(self, image: VisionImage, name: str) -> str:
        """The text and description of an image; UpstreamError when Claude fails."""
        source = {
            "type": "base64",
            "media_type": image.media_type,
            "data": base64.b64encode(image.data).decode("ascii"),
        }
        return self._transcribe({"type": "image", "source": source}, "image", name)

    def transcribe_pdf_page(self, page_pdf: bytes, name: str, page: int) -> str:
        """The text and description of one PDF page (a one-page PDF) that has no text layer."""
        source = {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(page_pdf).decode("ascii"),
        }
        return self._transcribe({"type": "document", "source": source}, "page", f"{name} p{page}")

    def _transcribe(self, block: dict[str, Any], what: str, name: str) -> str:
        request = ClaudeRequest(
            model=self.model.model_id,
            max_tokens=min(_MAX_TRANSCRIPT_TOKENS, self.model.max_output_tokens),
            prompt={
                "system": [{"type": "text", "text": _SYSTEM}],
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            block,
                            {"type": "text", "text": _INSTRUCTION.format(what=what)},
                        ],
                    }
                ],
            },
        )
        # Called from the pipeline's worker thread; on the loop's own thread this would hang.
        running = asyncio.run_coroutine_threadsafe(self._call(request, name), self.loop)
        return running.result()

    async def _call(self, request: ClaudeRequest, name: str) -> str:
        meter = CallMeter()
        started_at = datetime.now(UTC)
        failure: UpstreamError | None = None
        try:
            return (await self.claude.complete(request, meter)).strip()
        except UpstreamError as exc:
            failure = type(exc)(f"vision transcription of {name} failed: {exc}")
            raise failure from exc
        finally:
            record = CallRecord(
                feature=Feature.VISION,
                model=request.model,
                usage=meter.usage,
                started_at=started_at,
                latency_ms=round((time.perf_counter() - meter.started_at) * 1000, 3),
                time_to_first_token_ms=meter.time_to_first_token_ms,
                request_id=meter.request_id,
                cache_miss_reason=meter.cache_miss_reason,
                cache_missed_input_tokens=meter.cache_missed_input_tokens,
                error=str(failure) if failure is not None else None,
            )
            self.ledger.record(record)
            self.tracing.record_call(record)
