from __future__ import annotations

import pytest

from ingest.loaders import check_document, load_document
from rag.errors import DocumentTooLarge, EmptyDocument, UnsupportedDocument
from tests.ingest.conftest import (
    SAMPLE,
    docx_bytes,
    encrypted_pdf_bytes,
    pdf_bytes,
    zip_bomb_docx_bytes,
)


def test_markdown_keeps_heading_paths_and_code_blocks_whole() -> None:
    text = (
        "# Guide\n\nIntro.\n\n## Lists\n\nLists change.\n\n"
        "```python\nitems = [3, 1]\n\nitems.reverse()\n```\n\n### Sorting\n\nUse sorted().\n"
    )
    document = load_document(text.encode(), "guide.md")

    assert document.title == "Guide"
    assert document.media_type == "text/markdown"
    assert [(s.heading_path, s.kind) for s in document.sections] == [
        (("Guide",), "text"),
        (("Guide", "Lists"), "text"),
        (("Guide", "Lists"), "code"),
        (("Guide", "Lists", "Sorting"), "text"),
    ]
    assert document.sections[2].text == "```python\nitems = [3, 1]\n\nitems.reverse()\n```"


def test_html_takes_its_title_and_headings_and_drops_scripts() -> None:
    html = (
        b"<html><head><title>Owl facts</title><script>var tracking = 1;</script></head>"
        b"<body><h1>Owls</h1><p>Owls hunt at night.</p><h2>Barn owl</h2><p>White face.</p>"
        b"</body></html>"
    )
    document = load_document(html, "owls.html")

    assert document.title == "Owl facts"
    assert ("Owls", "Barn owl") in {s.heading_path for s in document.sections}
    assert "tracking" not in document.text
    assert "Owls hunt at night." in document.text


def test_html_navigation_is_not_part_of_the_text() -> None:
    # DocBook's header and footer bars name the previous and next chapters; other sites mark
    # their menus with <nav> or role="navigation". None of it is the page's own text.
    html = (
        b"<html><head><title>Chapter 9. Upgrades</title></head><body>"
        b'<div class="navheader"><table><tr><th>Chapter 9. Upgrades</th></tr><tr>'
        b'<td><a href="8.html">Prev</a></td><td><div>nested</div></td></tr></table></div>'
        b'<nav><ul><li><a href="/">Home</a></li><li>Site map</li></ul></nav>'
        b"<h1>Chapter 9. Upgrades</h1><p>Upgrade one release at a time.</p>"
        b'<div role="navigation">Jump to section</div>'
        b"<h2>9.1. Kernels</h2><p>Reboot after a kernel upgrade.</p>"
        b'<div class="navfooter"><table><tr><td>Chapter 8. Packages</td>'
        b"<td>Chapter 10. Keeping your system up to date</td></tr></table></div>"
        b"<p>Last changed in 2024.</p></body></html>"
    )
    document = load_document(html, "upgrades.html")

    assert "Upgrade one release at a time." in document.text
    assert "Reboot after a kernel upgrade." in document.text
    assert "Last changed in 2024." in document.text  # the page goes on after its footer
    for navigation in ("Prev", "nested", "Home", "Site map", "Jump to", "Chapter 8", "Chapter 10"):
        assert navigation not in document.text, navigation
    assert [s.heading_path for s in document.sections if "Reboot" in s.text] == [
        ("Chapter 9. Upgrades", "9.1. Kernels")
    ]


def test_html_code_after_a_list_stays_a_code_block_of_its_own() -> None:
    html = b"<h1>Loop</h1><ul><li>one</li><li>two</li></ul><pre>for x in y:\n    print(x)</pre>"

    document = load_document(html, "loop.html")

    assert [(s.kind, s.text) for s in document.sections] == [
        ("list", "  * one\n  * two"),
        ("code", "```\nfor x in y:\n    print(x)\n```"),
    ]


def test_pdf_sections_keep_their_page_numbers() -> None:
    data = pdf_bytes(
        [[("Heading1", "First page"), ("BodyText", "Alpha text.")], [("BodyText", "Beta text.")]],
        title="Two pages",
    )
    document = load_document(data, "two.pdf")

    assert document.title == "Two pages"
    pages = {s.page for s in document.sections if "Beta" in s.text}
    assert pages == {2}
    assert any(s.page == 1 and "Alpha" in s.text for s in document.sections)


def test_docx_headings_lists_and_tables_become_sections() -> None:
    document = load_document(docx_bytes(), "owls.docx")

    assert document.title == "Field guide to owls"
    by_text = {s.text: s for s in document.sections}
    assert by_text["- Eats voles\n- Nests in barns"].heading_path == ("Owls", "Barn owl")
    assert by_text["- Eats voles\n- Nests in barns"].kind == "list"
    assert "Species | Wingspan\nBarn owl | 85 cm" in by_text


def test_plain_text_title_is_its_first_line() -> None:
    document = load_document((SAMPLE / "zen-of-python.txt").read_bytes(), "zen.txt")

    assert document.title == "The Zen of Python, by Tim Peters"
    assert "Simple is better than complex." in document.text


def test_the_same_bytes_get_the_same_document_id_whatever_the_name() -> None:
    data = b"Same content."
    assert load_document(data, "a.txt").document_id == load_document(data, "b.txt").document_id
    assert load_document(data, "a.txt").document_id != load_document(b"Other.", "a.txt").document_id


@pytest.mark.parametrize(
    ("data", "name", "error", "message"),
    [
        (b"", "empty.txt", EmptyDocument, "empty"),
        (b"   \n\n  ", "blank.md", EmptyDocument, "empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "photo.png", UnsupportedDocument, "readable PNG"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 32, "scan.pdf", UnsupportedDocument, "a JPEG image"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "pic.webp", UnsupportedDocument, "readable WebP"),
        (b"GIF89a" + b"\0" * 16, "anim.gif", UnsupportedDocument, "readable GIF"),
        (b"Just some words.", "report.pdf", UnsupportedDocument, "its bytes are text"),
        (b"%PDF-1.7 not really", "notes.txt", UnsupportedDocument, "its bytes are a PDF"),
        (b"Plain words.", "notes.exe", UnsupportedDocument, ".exe files are not supported"),
        (b"\0\1\2\3binary", "blob", UnsupportedDocument, "binary file"),
        (b"%PDF-1.4\n%garbage that is no PDF at all", "broken.pdf", UnsupportedDocument, "PDF"),
        (b"PK\x03\x04 not a zip", "broken.docx", UnsupportedDocument, "Word"),
    ],
)
def test_bad_files_are_refused_with_a_reason(
    data: bytes, name: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        check_document(data, name)
    with pytest.raises(error, match=message):
        load_document(data, name)


def test_a_document_of_rules_and_empty_table_cells_has_nothing_to_index() -> None:
    with pytest.raises(EmptyDocument, match="no text to index"):
        load_document(b"| |\n|---|\n\n* * *\n", "rules.md")


def test_a_declared_content_type_that_contradicts_the_bytes_is_refused() -> None:
    with pytest.raises(UnsupportedDocument, match="claims to be application/pdf"):
        check_document(b"Words, not a PDF.", "upload", declared_type="application/pdf")


def test_an_encrypted_pdf_is_refused_and_says_why() -> None:
    with pytest.raises(UnsupportedDocument, match="encrypted PDF"):
        check_document(encrypted_pdf_bytes(), "locked.pdf")


def test_a_docx_zip_bomb_is_refused_before_anything_is_inflated() -> None:
    bomb = zip_bomb_docx_bytes()
    assert len(bomb) < 1_000_000

    with pytest.raises(DocumentTooLarge, match="zip bomb"):
        check_document(bomb, "bomb.docx", max_unpacked_bytes=200_000_000)
    with pytest.raises(DocumentTooLarge, match="unpack"):
        check_document(docx_bytes(), "small.docx", max_unpacked_bytes=10_000)
