"""Hybrid search weighs each candidate's section too: its opening and all of its words.

A real Chroma store and the real Retriever. The vectors are set by hand (the question's vector
is one axis, each chunk's cosine to it chosen), so dense search's order is known exactly and
only the fusion is under test; BM25 reads the chunks' real text.

The guide: "Chain care" opens with how to clean and oil a chain; "Winter storage" opens with
hanging the bike up and only in passing, in its second chunk, says to clean the chain. That
passing sentence is a shade closer to the question than the answer's opening, and BM25 alone
cannot tell them apart, so chunk-level fusion puts it first. The answer's section opens on the
question and holds all its words; the passing remark's section does neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from rag.retrieval import Retriever
from rag.store import ChunkStore
from rag.types import Chunk

QUESTION = "How do I clean and oil the chain?"
DIMENSIONS = 16
# (section, text, cosine to the question)
GUIDE = [
    (
        "Chain care",
        "Wipe the chain with a rag every 300 kilometres and after rain, then put a drop of "
        "oil on each roller.",
        0.60,
    ),
    (
        "Chain care",
        "Clean it more often in winter: a chain that is never cleaned wears out the cassette "
        "and the chainrings within a season.",
        0.50,
    ),
    (
        "Winter storage",
        "Hang the bike in a dry shed so that the tyres do not rest on the floor.",
        0.20,
    ),
    ("Winter storage", "Before you put it away, clean the chain with degreaser.", 0.62),
    ("Brakes", "Replace brake pads when their grooves have worn away.", 0.25),
    ("Tyres", "Road tyres run at six to eight bar.", 0.15),
]


def _vector(cosine: float, axis: int) -> npt.NDArray[np.float32]:
    """A unit vector at the given cosine to axis 0 (the question's), leaning on axis."""
    vector = np.zeros(DIMENSIONS, dtype=np.float32)
    vector[0], vector[axis] = cosine, np.sqrt(1 - cosine * cosine)
    return vector


class _QuestionVector:
    """Embeds the question as axis 0: the chunks' cosines to it are those of GUIDE."""

    async def aembed_query(self, text: str) -> npt.NDArray[np.float32]:
        assert text == QUESTION
        return _vector(1.0, DIMENSIONS - 1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChunkStore]:
    store = ChunkStore.open(tmp_path)
    chunks = [
        Chunk(
            chunk_id=f"guide:{position}",
            document_id="guide",
            source="bike.md",
            title="Bicycle care",
            text=text,
            heading_path=("Bicycle care", section),
            position=position,
            char_start=0,
            char_end=len(text),
        )
        for position, (section, text, _) in enumerate(GUIDE)
    ]
    vectors = np.stack([_vector(c, axis) for axis, (_, _, c) in enumerate(GUIDE, start=1)])
    store.upsert(chunks, vectors)
    yield store
    store.close()


def _sections(found: list) -> list[str]:
    return [r.chunk.heading_path[-1] for r in found]


async def test_the_section_that_opens_on_the_question_comes_before_a_passing_remark(
    store: ChunkStore,
) -> None:
    dense = Retriever(_QuestionVector(), store, lambda: "1", hybrid=False)
    hybrid = Retriever(_QuestionVector(), store, lambda: "1", hybrid=True)

    # Dense search alone ranks the passing remark first, by a shade.
    assert [r.chunk.chunk_id for r in await dense.search(QUESTION, 2)] == ["guide:3", "guide:0"]

    found = await hybrid.search(QUESTION, 2)

    assert _sections(found) == ["Chain care", "Winter storage"]
    assert found[0].chunk.chunk_id == "guide:0"
    # Only the order changes: each result keeps its cosine similarity as its score.
    assert found[0].score == pytest.approx(0.60, abs=1e-4)
    assert found[1].score == pytest.approx(0.62, abs=1e-4)
