"""Cut a Document into Chunks that fit the embedding model's window, measured in its own tokens.

Blocks (paragraphs, lists, code, tables) under one heading path are packed whole into a chunk
while they fit. A block too big for the window is split at token boundaries, preferably at a
line or sentence end, and only those forced splits overlap a little, so a sentence cut in two
is still found whole in one of the halves. Nothing is ever truncated by the model. A piece
without a letter or digit (what is left of a layout table, a rule) is no chunk: it holds
nothing to find, yet its vector, all headings, outranks real answers under those headings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rag.types import SECTION_SEPARATOR, Chunk, Document, embedding_context

# Tokens a forced split repeats from the end of the previous piece.
OVERLAP_TOKENS = 24
# The heading path shares the window with the text; past this it is cut to leave room.
MAX_CONTEXT_TOKENS = 64
_SENTENCE_ENDS = frozenset(".!?;:")


class Tokenizer(Protocol):
    """What the chunker needs of the embedder: its window and its word pieces."""

    @property
    def max_text_tokens(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def token_spans(self, text: str) -> list[tuple[int, int]]: ...


@dataclass(slots=True)
class _Piece:
    """A run of the document's text: [start, end) with its word-piece count."""

    start: int
    end: int
    tokens: int
    heading_path: tuple[str, ...]
    page: int | None
    forced: bool = False


def _fit_path(path: tuple[str, ...], tokenizer: Tokenizer) -> tuple[str, ...]:
    """The heading path cut to MAX_CONTEXT_TOKENS, keeping the nearest headings."""
    while len(path) > 1 and tokenizer.count_tokens(" > ".join(path)) > MAX_CONTEXT_TOKENS:
        path = path[1:]
    if path and tokenizer.count_tokens(path[0]) > MAX_CONTEXT_TOKENS:
        spans = tokenizer.token_spans(path[0])
        path = (path[0][: spans[MAX_CONTEXT_TOKENS - 1][1]],)
    return path


def _budget(tokenizer: Tokenizer, document: Document, path: tuple[str, ...]) -> int:
    """Tokens left for text once the context (Chunk.embedding_text) is in the window."""
    context = embedding_context(document.title, path)
    return tokenizer.max_text_tokens - (tokenizer.count_tokens(context) if context else 0)


def _cut_point(text: str, spans: list[tuple[int, int]], first: int, limit: int) -> int:
    """The token index to end a forced piece at: a line or sentence end near limit if any."""
    if limit >= len(spans):
        return len(spans)
    floor = first + max(1, (limit - first) * 6 // 10)
    for prefer_newline in (True, False):
        for index in range(limit, floor, -1):
            gap = text[spans[index - 1][1] : spans[index][0]]
            if prefer_newline and "\n" in gap:
                return index
            if not prefer_newline and gap and text[spans[index - 1][1] - 1] in _SENTENCE_ENDS:
                return index
    # No boundary nearby: cut between words, never inside one.
    for index in range(limit, first, -1):
        if spans[index][0] > spans[index - 1][1]:
            return index
    return limit


def _split_block(
    text: str, offset: int, budget: int, piece: _Piece, tokenizer: Tokenizer
) -> list[_Piece]:
    spans = tokenizer.token_spans(text)
    pieces: list[_Piece] = []
    first = 0
    while first < len(spans):
        end = _cut_point(text, spans, first, min(first + budget, len(spans)))
        pieces.append(
            _Piece(
                offset + spans[first][0],
                offset + spans[end - 1][1],
                end - first,
                piece.heading_path,
                piece.page,
                forced=True,
            )
        )
        if end >= len(spans):
            break
        first = max(end - OVERLAP_TOKENS, first + 1)
        while first < end and first > 0 and spans[first][0] == spans[first - 1][1]:
            first += 1  # start the overlap at a word boundary
    return pieces


def _blocks(document: Document, tokenizer: Tokenizer) -> list[_Piece]:
    pieces: list[_Piece] = []
    offset = 0
    for section in document.sections:
        end = offset + len(section.text)
        tokens = tokenizer.count_tokens(section.text)
        path = _fit_path(section.heading_path, tokenizer)
        pieces.append(_Piece(offset, end, tokens, path, section.page))
        offset = end + len(SECTION_SEPARATOR)
    return pieces


def chunk_document(document: Document, tokenizer: Tokenizer) -> list[Chunk]:
    """The chunks of document, in reading order; each fits the embedder's window."""
    text = document.text
    groups: list[_Piece] = []
    for block in _blocks(document, tokenizer):
        budget = _budget(tokenizer, document, block.heading_path)
        last = groups[-1] if groups else None
        if block.tokens > budget:
            section_text = text[block.start : block.end]
            groups.extend(_split_block(section_text, block.start, budget, block, tokenizer))
        elif (
            last is not None
            and last.heading_path == block.heading_path
            and last.page == block.page
            and last.tokens + block.tokens <= budget
            and not last.forced
        ):
            last.end = block.end
            last.tokens += block.tokens
        else:
            groups.append(block)
    worded = [g for g in groups if _has_word(text[g.start : g.end])]
    return [_chunk(document, text, position, group) for position, group in enumerate(worded)]


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _chunk(document: Document, text: str, position: int, group: _Piece) -> Chunk:
    return Chunk(
        chunk_id=f"{document.document_id}:{position}",
        document_id=document.document_id,
        source=document.source,
        title=document.title,
        text=text[group.start : group.end],
        heading_path=group.heading_path,
        position=position,
        char_start=group.start,
        char_end=group.end,
        page=group.page,
    )
