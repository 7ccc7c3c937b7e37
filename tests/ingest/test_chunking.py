from __future__ import annotations

import itertools

from ingest.chunking import OVERLAP_TOKENS, chunk_document
from ingest.loaders import load_document
from rag.embeddings import Embedder
from tests.ingest.conftest import SAMPLE


def _long_markdown() -> str:
    sentences = " ".join(
        f"Sentence number {n} talks about owls and their habits." for n in range(300)
    )
    code = "\n".join(f"value_{n} = compute({n})" for n in range(20))
    short = "## Short\n\nOwls hunt at night."
    return f"# Owls\n\n{short}\n\n## Long\n\n{sentences}\n\n```python\n{code}\n```\n"


def test_no_chunk_exceeds_the_model_window_with_its_heading_path(embedder: Embedder) -> None:
    documents = [load_document(_long_markdown().encode(), "owls.md")] + [
        load_document(path.read_bytes(), path.name) for path in sorted(SAMPLE.iterdir())
    ]

    for document in documents:
        chunks = chunk_document(document, embedder)
        assert chunks
        longest = max(embedder.count_tokens(c.embedding_text) for c in chunks)
        assert longest <= embedder.max_text_tokens == embedder.window_tokens - 2


def test_chunks_map_back_to_the_document_text_by_char_span(embedder: Embedder) -> None:
    document = load_document((SAMPLE / "python-sequences.md").read_bytes(), "seq.md")
    text = document.text

    chunks = chunk_document(document, embedder)

    assert [c.position for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert text[chunk.char_start : chunk.char_end] == chunk.text
        assert chunk.document_id == document.document_id
        assert chunk.source == "seq.md"
        assert chunk.title == "Python sequence types"
        assert chunk.chunk_id == f"{document.document_id}:{chunk.position}"


def test_the_heading_path_is_part_of_what_is_embedded(embedder: Embedder) -> None:
    document = load_document(_long_markdown().encode(), "owls.md")

    short = next(c for c in chunk_document(document, embedder) if "hunt at night" in c.text)

    assert short.heading_path == ("Owls", "Short")
    assert short.embedding_text == "Owls > Short\n\nOwls hunt at night."


def test_the_title_leads_what_is_embedded_and_bare_numbered_headings_are_left_out(
    embedder: Embedder,
) -> None:
    page = (
        "<html><head><title>Owl FAQ</title></head><body><h2>Habits</h2><h3>3.1.</h3>"
        "<p>Owls hunt at night.</p></body></html>"
    )
    document = load_document(page.encode(), "owls.html")

    (chunk,) = chunk_document(document, embedder)

    assert chunk.heading_path == ("Habits", "3.1.")
    assert chunk.embedding_text == "Owl FAQ > Habits\n\nOwls hunt at night."
    assert chunk.text == "Owls hunt at night."


def test_blocks_that_fit_stay_whole_and_only_forced_splits_overlap(embedder: Embedder) -> None:
    document = load_document(_long_markdown().encode(), "owls.md")
    chunks = chunk_document(document, embedder)

    code = [c for c in chunks if "value_0 =" in c.text]
    assert len(code) == 1
    assert code[0].text.startswith("```python")
    assert code[0].text.endswith("```")
    long_pieces = [c for c in chunks if c.heading_path == ("Owls", "Long") and "```" not in c.text]
    assert len(long_pieces) > 2
    for before, after in itertools.pairwise(long_pieces):
        overlap = before.char_end - after.char_start
        assert overlap > 0
        assert embedder.count_tokens(document.text[after.char_start : before.char_end]) <= (
            OVERLAP_TOKENS
        )
    unforced = [c for c in chunks if c.heading_path != ("Owls", "Long")]
    for before, after in itertools.pairwise(unforced):
        assert before.char_end <= after.char_start


def test_a_forced_split_prefers_sentence_ends(embedder: Embedder) -> None:
    document = load_document(_long_markdown().encode(), "owls.md")

    pieces = [c for c in chunk_document(document, embedder) if c.heading_path == ("Owls", "Long")]

    assert all(p.text.rstrip().endswith((".", "```")) for p in pieces)


def test_a_piece_without_letters_or_digits_is_no_chunk(embedder: Embedder) -> None:
    # A navigation table of image links, as generated manuals carry, leaves only table rules.
    nav = (
        '<table><tr><td><a href="prev.html"><img src="prev.png" alt=""></a></td>'
        '<td><a href="next.html"><img src="next.png" alt=""></a></td></tr></table>'
    )
    page = f"<html><body><h1>Kernels</h1>{nav}<h2>Custom kernels</h2><p>Use make.</p>{nav}"
    document = load_document(f"{page}</body></html>".encode(), "kernels.html")
    assert any(not any(ch.isalnum() for ch in s.text) for s in document.sections)

    chunks = chunk_document(document, embedder)

    # The table alone under "Kernels" is gone; the one after the text rides along with it.
    assert len(chunks) == 1
    assert chunks[0].text.startswith("Use make.")
    assert chunks[0].heading_path == ("Kernels", "Custom kernels")
    assert chunks[0].position == 0
    assert chunks[0].chunk_id == f"{document.document_id}:0"
