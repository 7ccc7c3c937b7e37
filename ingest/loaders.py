"""Turn a file's bytes into a Document: its text in order, split at its own structure.

Markdown through markdown-it-py, HTML through html2text (to Markdown, then the same path),
PDF through pypdf (one section per paragraph, with its page), DOCX through python-docx
(Word's heading styles become the heading path). Images, and PDF pages without a text layer,
are transcribed by Claude vision (ingest/vision.py) and the transcription is read as Markdown.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Protocol

from ingest.files import content_hash, document_id_of
from ingest.sniffing import (
    DOCX,
    HTML,
    IMAGE_MEDIA_TYPES,
    MARKDOWN,
    PDF,
    check_docx_archive,
    image_kind,
    media_type_of,
)
from rag.errors import DocumentTooLarge, EmptyDocument, InvalidInput, UnsupportedDocument
from rag.types import Document, Section

if TYPE_CHECKING:
    from pypdf import PdfReader

    from ingest.vision import VisionImage


class Transcriber(Protocol):
    """What reads images and text-less PDF pages (ingest/vision.py's VisionTranscriber)."""

    max_pages: int

    def transcribe_image(self, image: VisionImage, name: str) -> str: ...

    def transcribe_pdf_page(self, page_pdf: bytes, name: str, page: int) -> str: ...


_BLANK_LINES = re.compile(r"\n\s*\n")
_MARKED_CODE = re.compile(r"\[code\]\n(.*?)\n?\[/code\]", re.DOTALL)
_MAX_TITLE_CHARS = 120
# A page's content stream is rarely over a megabyte; pypdf's own default (75 MB per stream)
# lets a small PDF whose pages each inflate tens of megabytes hold a worker for minutes.
MAX_PDF_STREAM_BYTES = 16 * 1024 * 1024


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Not UTF-8: old Windows text is by far the likeliest; no byte fails in cp1252
            # with errors="replace", so an odd character never loses the file.
            text = data.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _first_line_title(text: str, name: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= _MAX_TITLE_CHARS else PurePath(name).stem
    return PurePath(name).stem


def _paragraphs(
    text: str, heading_path: tuple[str, ...] = (), page: int | None = None
) -> list[Section]:
    return [
        Section(text=part.strip("\n"), heading_path=heading_path, page=page)
        for part in _BLANK_LINES.split(text)
        if part.strip()
    ]


def _markdown_sections(text: str) -> tuple[list[Section], str | None]:
    from markdown_it import MarkdownIt

    lines = text.split("\n")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    headings: list[tuple[int, str]] = []
    kinds = {
        "fence": "code",
        "code_block": "code",
        "bullet_list_open": "list",
        "ordered_list_open": "list",
        "table_open": "table",
    }
    for index, token in enumerate(tokens):
        if token.level != 0 or token.map is None or token.nesting == -1 or token.type == "hr":
            continue
        if token.type == "heading_open":
            level = int(token.tag[1:])
            heading = tokens[index + 1].content.strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            headings.append((level, heading))
            continue
        start, end = token.map
        block = "\n".join(lines[start:end]).strip("\n")
        if block.strip():
            path = tuple(h for _, h in stack)
            sections.append(Section(block, heading_path=path, kind=kinds.get(token.type, "text")))
    # The title is the first top-level heading, else the first heading of any level.
    title = min(headings, key=lambda h: h[0])[1] if headings else None
    return sections, title


class _TitleParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self._inside = False
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._inside = tag == "title" and not self.title

    def handle_endtag(self, tag: str) -> None:
        self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.title += data


_NAVIGATION_CLASSES = frozenset({"navheader", "navfooter"})


def _is_navigation(tag: str, attrs: dict[str, str | None]) -> bool:
    """A page's navigation: links to other pages, not part of the text.

    `<nav>`, anything marked role="navigation", and DocBook's header and footer bars (the
    previous and next chapters' titles, which would otherwise join the page's first and last
    sections and be found for questions about those chapters).
    """
    if tag == "nav" or attrs.get("role") == "navigation":
        return True
    return not _NAVIGATION_CLASSES.isdisjoint((attrs.get("class") or "").split())


class _SkipNavigation:
    """An html2text tag callback that silences navigation elements, nested ones included."""

    def __init__(self) -> None:
        self._tag: str | None = None  # the open navigation element's tag
        self._depth = 0  # its own tag's elements open inside it, itself included

    def __call__(self, converter: Any, tag: str, attrs: dict[str, str | None], start: bool) -> bool:
        if self._tag is None:
            if not (start and _is_navigation(tag, attrs)):
                return False
            self._tag, self._depth = tag, 1
            converter.quiet += 1
            return True
        if tag == self._tag:
            self._depth += 1 if start else -1
            if self._depth == 0:
                self._tag = None
                converter.quiet -= 1
        return True


def _html_to_markdown(html: str) -> tuple[str, str]:
    import html2text

    converter = html2text.HTML2Text()
    # html2text declares the callback's attribute as None only.
    converter.tag_callback = _SkipNavigation()  # type: ignore[assignment]
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_links = True
    # Marked code becomes a fenced block: html2text's indented code would be read as part of
    # a list that precedes it.
    converter.mark_code = True
    title = _TitleParser()
    title.feed(html)
    markdown = _MARKED_CODE.sub(
        lambda m: f"```\n{textwrap.dedent(m.group(1)).strip(chr(10))}\n```",
        converter.handle(html),
    )
    return markdown, " ".join(title.title.split())


@contextmanager
def _pdf_limits() -> Iterator[None]:
    """Inside the block, pypdf refuses to inflate any one stream past MAX_PDF_STREAM_BYTES."""
    from pypdf import apply_configuration

    limit = MAX_PDF_STREAM_BYTES
    with apply_configuration(
        zlib_maximum_output_length=limit,
        lzw_maximum_output_length=limit,
        run_length_maximum_output_length=limit,
        array_based_stream_maximum_output_length=limit,
    ):
        yield


def _unreadable_pdf(exc: Exception, name: str) -> InvalidInput:
    """What a pypdf error means to the user: a stream past the limit, or a damaged file."""
    from pypdf.errors import LimitReachedError

    if isinstance(exc, LimitReachedError):
        return DocumentTooLarge(
            f"{name} holds a stream that inflates past {MAX_PDF_STREAM_BYTES:,} bytes "
            "(a decompression bomb, or not a document to index)"
        )
    # pypdf raises many kinds of error on damaged files; each means the same to the user.
    return UnsupportedDocument(f"{name} is not a readable PDF: {exc}")


def _open_pdf(data: bytes, name: str) -> PdfReader:
    from pypdf import PdfReader

    try:
        with _pdf_limits():
            reader = PdfReader(io.BytesIO(data))
            encrypted = reader.is_encrypted and not reader.decrypt("")
            pages = 0 if encrypted else len(reader.pages)
    except Exception as exc:
        raise _unreadable_pdf(exc, name) from exc
    if encrypted:
        raise UnsupportedDocument(
            f"{name} is an encrypted PDF; remove its password and upload it again"
        )
    if pages == 0:
        raise EmptyDocument(f"{name} is a PDF without pages")
    return reader


def _page_pdf(reader: PdfReader, index: int, name: str) -> bytes:
    """Page index of the reader alone, as a PDF of its own."""
    from pypdf import PdfWriter

    out = io.BytesIO()
    try:
        writer = PdfWriter()
        writer.add_page(reader.pages[index])
        writer.write(out)
    except Exception as exc:
        raise _unreadable_pdf(exc, name) from exc
    return out.getvalue()


def _scanned_pages(
    reader: PdfReader, pages: list[str], name: str, vision: Transcriber
) -> list[int]:
    """The 0-based indexes of the pages with pictures but no text layer; checked against the cap.

    A page with neither text nor pictures is blank and costs no call.
    """
    try:
        scanned = [
            index
            for index, text in enumerate(pages)
            if not text.strip() and len(reader.pages[index].images) > 0
        ]
    except Exception as exc:
        raise _unreadable_pdf(exc, name) from exc
    if len(scanned) > vision.max_pages:
        raise DocumentTooLarge(
            f"{name} has {len(scanned)} pages without a text layer, over the limit of "
            f"{vision.max_pages} pages transcribed per document (STRATA_MAX_VISION_PAGES)"
        )
    return scanned


def _pdf_sections(
    data: bytes, name: str, vision: Transcriber | None
) -> tuple[list[Section], str | None]:
    with _pdf_limits():
        reader = _open_pdf(data, name)
        try:
            pages = [page.extract_text() or "" for page in reader.pages]
            title = reader.metadata.title if reader.metadata else None
        except Exception as exc:
            raise _unreadable_pdf(exc, name) from exc
        if vision is not None:
            for index in _scanned_pages(reader, pages, name, vision):
                page_pdf = _page_pdf(reader, index, name)
                pages[index] = vision.transcribe_pdf_page(page_pdf, name, index + 1)
    sections = [
        section
        for number, page_text in enumerate(pages, start=1)
        for section in _paragraphs(page_text.replace("\r\n", "\n"), page=number)
    ]
    return sections, (str(title).strip() or None) if title else None


def _docx_blocks(data: bytes) -> Iterator[tuple[str, str, int | None]]:
    """(kind, text, heading level) of each paragraph or table of a Word body, in order."""
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    core_title = document.core_properties.title
    if core_title:
        yield "title", core_title, None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in item.rows]
            yield "table", "\n".join(rows), None
            continue
        style = item.style.name if item.style is not None else ""
        text = item.text.strip()
        if not text:
            continue
        if style == "Title":
            yield "heading", text, 1
        elif style.startswith("Heading") and style.removeprefix("Heading ").isdigit():
            yield "heading", text, int(style.removeprefix("Heading "))
        elif style.startswith("List"):
            yield "list", text, None
        else:
            yield "text", text, None


def _docx_sections(data: bytes, name: str) -> tuple[list[Section], str | None]:
    try:
        blocks = list(_docx_blocks(data))
    except Exception as exc:
        # python-docx and lxml raise many kinds of error on damaged files.
        raise UnsupportedDocument(f"{name} is not a readable Word document: {exc}") from exc
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    title: str | None = None
    for kind, text, level in blocks:
        if kind == "title":
            title = text
        elif kind == "heading" and level is not None:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
            title = title or text
        elif kind == "list" and sections and sections[-1].kind == "list":
            last = sections[-1]
            sections[-1] = Section(f"{last.text}\n- {text}", last.heading_path, kind="list")
        else:
            prefix = "- " if kind == "list" else ""
            path = tuple(h for _, h in stack)
            sections.append(Section(prefix + text, heading_path=path, kind=kind))
    return sections, title


def _image_sections(
    data: bytes, name: str, vision: Transcriber | None
) -> tuple[list[Section], str | None]:
    from ingest.vision import prepare_image

    kind = image_kind(data) or "image"
    image = prepare_image(data, name, kind)
    if vision is None:
        raise UnsupportedDocument(f"{name} is a {kind} image, and this ingestion has no vision")
    return _markdown_sections(vision.transcribe_image(image, name))


def check_document(
    data: bytes, source: str, declared_type: str | None = None, max_unpacked_bytes: int = 0
) -> str:
    """The cheap checks of load_document, without parsing the text; returns the media type.

    Catches empty, unknown, lying, encrypted-PDF, unreadable-PDF, zip-bomb, corrupt-image and
    decompression-bomb files while an upload request is still open, so they get a 4xx instead
    of a failed job.
    """
    name = PurePath(source).name or source
    media_type = media_type_of(data, name, declared_type)
    if media_type in IMAGE_MEDIA_TYPES.values():
        from ingest.vision import prepare_image

        prepare_image(data, name, image_kind(data) or "image")
    elif media_type == DOCX:
        check_docx_archive(data, name, max_unpacked_bytes or 4 * len(data) + 10_000_000)
    elif media_type == PDF:
        _open_pdf(data, name)
    return media_type


def load_document(
    data: bytes,
    source: str,
    declared_type: str | None = None,
    max_unpacked_bytes: int = 0,
    vision: Transcriber | None = None,
) -> Document:
    """Parse a file into a Document with its structure; raises InvalidInput subclasses.

    max_unpacked_bytes bounds what an archive format (DOCX) may inflate to; 0 means 4x data.
    vision transcribes images and text-less PDF pages (UpstreamError when Claude fails);
    without it an image is refused and such pages are skipped.
    """
    name = PurePath(source).name or source
    media_type = media_type_of(data, name, declared_type)
    title: str | None
    if media_type in IMAGE_MEDIA_TYPES.values():
        sections, title = _image_sections(data, name, vision)
    elif media_type == PDF:
        sections, title = _pdf_sections(data, name, vision)
    elif media_type == DOCX:
        check_docx_archive(data, name, max_unpacked_bytes or 4 * len(data) + 10_000_000)
        sections, title = _docx_sections(data, name)
    else:
        text = _decode(data)
        if media_type == HTML:
            text, html_title = _html_to_markdown(text)
            sections, title = _markdown_sections(text)
            title = html_title or title
        elif media_type == MARKDOWN:
            sections, title = _markdown_sections(text)
        else:
            sections, title = _paragraphs(text), None
        title = title or _first_line_title(text, name)
    # Only letters and digits can be searched for (the chunker drops pieces without them).
    if not any(ch.isalnum() for section in sections for ch in section.text):
        raise EmptyDocument(f"{name} has no text to index")
    return Document(
        document_id=document_id_of(data),
        source=source,
        title=" ".join((title or PurePath(name).stem).split())[:_MAX_TITLE_CHARS],
        content_hash=content_hash(data),
        sections=tuple(sections),
        media_type=media_type,
    )
