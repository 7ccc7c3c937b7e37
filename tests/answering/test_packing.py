"""Cache-aware packing: a warm block stands in for a question's own only when it costs less."""

from __future__ import annotations

from rag.packing import WarmBlock, block_tokens, pack
from rag.prompt import build_prompt
from rag.types import CacheLayer, Chunk

READ = 0.05  # claude-sonnet-5-5's cache read over its input price


def _chunk(doc: str, position: int, words: int = 60) -> Chunk:
    return Chunk(
        chunk_id=f"{doc}-{position}",
        document_id=doc,
        source=f"{doc}.md",
        title=doc.title(),
        text=" ".join(f"{doc}{position}w{i}" for i in range(words)),
        heading_path=(),
        position=position,
        char_start=0,
        char_end=1,
    )


def _warm(*chunks: Chunk) -> WarmBlock:
    return WarmBlock(frozenset(c.chunk_id for c in chunks), block_tokens(chunks), "")


A, B, C, D = (_chunk("alpha", p) for p in range(4))
X, Y = _chunk("other", 0), _chunk("other", 1)


def test_a_warm_block_holding_part_of_the_question_is_sent_with_only_what_it_lacks():
    block = _warm(A, B, X, Y)
    packing = pack([A, B, C], [block], READ, budget=12_000)
    assert packing is not None
    assert packing.block == block
    assert packing.missing == [C]
    assert packing.cost < packing.own_cost == block_tokens([A, B, C])


def test_the_cheapest_warm_block_wins_and_one_sharing_nothing_is_never_sent():
    cover_one, cover_two = _warm(A, X), _warm(A, B, Y)
    packing = pack([A, B, C], [_warm(X, Y), cover_one, cover_two], READ, budget=12_000)
    assert packing is not None
    assert packing.block == cover_two
    assert pack([A, B], [_warm(X, Y)], READ, budget=12_000) is None


def test_a_block_whose_read_costs_more_than_the_chunks_it_saves_is_not_sent():
    huge = _warm(A, *(_chunk("bulk", p, words=400) for p in range(40)))
    assert huge.tokens * READ > block_tokens([A])
    assert pack([A, B], [huge], READ, budget=100_000) is None
    # The same block within the budget but read at a price where it pays: chosen.
    assert pack([A, B], [huge], 0.001, budget=100_000) is not None
    assert pack([A, B], [huge], 0.001, budget=huge.tokens) is None


def test_a_first_question_over_a_warm_block_sends_the_blocks_bytes_unchanged():
    alone = build_prompt([A, B, X], [], "What is alpha?", {})
    packed = build_prompt([A, B, X], [], "What is alpha three?", {}, fresh=[C])
    assert packed.layer_bytes(CacheLayer.DOCUMENTS) == alone.layer_bytes(CacheLayer.DOCUMENTS)
    first = packed.messages[0]["content"]
    assert [block.get("title") for block in first[:-1]] == ["Alpha", "Alpha", "Other", "Alpha"]
    assert first[-1] == {"type": "text", "text": "What is alpha three?"}
    assert packed.chunks == (A, B, X, C)
