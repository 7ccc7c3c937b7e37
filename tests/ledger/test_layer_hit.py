"""Which layer a cache read reached: the ledger's and the dashboard's layer_hit."""

from __future__ import annotations

from rag.prompt import build_prompt, prefix_boundaries
from rag.recorded_call import layer_hit
from rag.types import CacheLayer, Chunk, Turn, Usage


def _chunk(position: int) -> Chunk:
    return Chunk(
        chunk_id=f"manual-{position}",
        document_id="manual",
        source="manual.md",
        title="Manual",
        text=" ".join(f"word{position}x{i}" for i in range(80)),
        heading_path=(),
        position=position,
        char_start=0,
        char_end=1,
    )


def _usage(prompt_tokens: int, read: int) -> Usage:
    return Usage(input_tokens=prompt_tokens - read, cache_read_input_tokens=read, output_tokens=9)


def test_a_read_through_a_short_turn_after_a_large_block_reached_the_conversation():
    history = [Turn("Why?", "Because."), Turn("And then?", "Then more.")]
    prompt = build_prompt([_chunk(p) for p in range(40)], history, "Once more?", {})
    system, documents, _question, first_answer, *_ = prefix_boundaries(prompt)
    assert first_answer[1] - documents[1] < 0.01 * documents[1]  # a turn tiny beside the block

    def hit(read: int) -> CacheLayer:
        return layer_hit(_usage(prompt.prompt_tokens, read), prompt)

    assert hit(first_answer[1]) is CacheLayer.CONVERSATION
    assert hit(documents[1]) is CacheLayer.DOCUMENTS
    assert hit(system[1]) is CacheLayer.SYSTEM
    assert hit(0) is CacheLayer.NONE
