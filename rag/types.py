"""Values passed between Strata's steps: small, frozen, cheap to build in tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

SECTION_SEPARATOR = "\n\n"

EMBEDDING_TEXT_VERSION = 2
"""The form of Chunk.embedding_text that stored vectors were made from. Bump it when that form
changes: vectors of each form live in their own collection, and an older store is re-embedded
on start instead of being searched with vectors of two forms mixed."""


def heading_trail(title: str, heading_path: Sequence[str]) -> str:
    """A chunk's title, then the headings above it, the title said once.

    Most pages open with a heading that repeats their title (an HTML <title> and its <h1>);
    saying it twice would cost tokens in every search result Claude is sent.
    """
    headings = list(heading_path)
    if title and (not headings or headings[0] != title):
        headings.insert(0, title)
    return " > ".join(headings)


def embedding_context(title: str, heading_path: Sequence[str]) -> str:
    """What places a chunk in its document: its title, then the headings above it.

    A heading without a letter (a bare number such as "7.3.") carries no words a question
    could share, only noise in the vector, so it is left out. On the benchmark's FAQ sets this
    form ranks the answer higher than the heading path alone (tests/benchmarks/bench_retrieval.py).
    """
    return heading_trail(title, [h for h in heading_path if any(ch.isalpha() for ch in h)])


@dataclass(frozen=True, slots=True)
class Section:
    """A span of a document's text under one heading path (or one page)."""

    text: str
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    kind: str = "text"  # text | code | list | table


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed document: its text in order, split at its own structure."""

    document_id: str
    source: str
    title: str
    content_hash: str
    sections: tuple[Section, ...]
    media_type: str = "text/plain"

    @property
    def text(self) -> str:
        """The whole text: sections joined by a blank line. Chunk char spans index into it."""
        return SECTION_SEPARATOR.join(section.text for section in self.sections)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document small enough for the embedding model's window."""

    chunk_id: str
    document_id: str
    source: str
    title: str
    text: str
    heading_path: tuple[str, ...]
    position: int
    char_start: int
    char_end: int
    page: int | None = None

    @property
    def embedding_text(self) -> str:
        """What gets embedded: embedding_context, then the text."""
        context = embedding_context(self.title, self.heading_path)
        return f"{context}{SECTION_SEPARATOR}{self.text}" if context else self.text


@dataclass(frozen=True, slots=True)
class RetrievedChunk:
    """A chunk found for a query, with the score that ranked it (higher is better)."""

    chunk: Chunk
    score: float


@dataclass(frozen=True, slots=True)
class Citation:
    """A passage of a source that an answer cites."""

    cited_text: str
    source: str
    chunk_id: str | None = None
    document_id: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """A chunk an answer was given over."""

    chunk_id: str
    document_id: str
    source: str
    title: str


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier exchange of a conversation."""

    question: str
    answer: str


class Feature(StrEnum):
    """What a Claude call was made for; each ledger row carries one."""

    ASK = "ask"
    ASK_STREAM = "ask_stream"
    AGENT = "agent"
    BATCH = "batch"
    ROUTE = "route"
    VISION = "vision"
    COUNT = "count"
    # A semantic-cache hit answered anyway in the background, to measure disagreement.
    SEMANTIC_AUDIT = "semantic_audit"


class CacheLayer(StrEnum):
    """The caching layer that served (part of) a call."""

    ANSWER = "answer"
    SEMANTIC = "semantic"
    SYSTEM = "system"
    DOCUMENTS = "documents"
    CONVERSATION = "conversation"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one Claude call used, as the API reported them."""

    input_tokens: int = 0
    cache_creation_5m_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    output_tokens: int = 0

    @property
    def cache_creation_input_tokens(self) -> int:
        return self.cache_creation_5m_input_tokens + self.cache_creation_1h_input_tokens

    @property
    def prompt_tokens(self) -> int:
        """The whole prompt: uncached, written and read tokens together."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What the ledger needs to know about one Claude call (or one answer-cache hit)."""

    feature: Feature
    model: str
    usage: Usage
    started_at: datetime
    latency_ms: float
    time_to_first_token_ms: float | None = None
    request_id: str | None = None
    conversation_id: str | None = None
    layer_hit: CacheLayer = CacheLayer.NONE
    # Token length of each cached layer's prefix, so the ledger can say which layer hit.
    layer_prefix_tokens: dict[CacheLayer, int] = field(default_factory=dict)
    cache_miss_reason: str | None = None
    cache_missed_input_tokens: int | None = None
    batch: bool = False
    # For an answer-cache hit: the usage of the call it stands in for.
    avoided_usage: Usage | None = None
    http_request_id: str | None = None
    # The key id (a keyed hash) of the API key the call was made for; None: no request's.
    owner_key: str | None = None
    error: str | None = None
    # The model routing passed over for this call's cheaper one: the ledger prices the saving.
    routed_from_model: str | None = None
    # For a semantic-cache hit (and its audit): the cached question it matched, and how close.
    semantic_question: str | None = None
    semantic_similarity: float | None = None
    # For an audit: whether the fresh answer agreed with the one the semantic cache served.
    semantic_audit_agreed: bool | None = None
    # Where a cache entry of this prompt can end: (digest of the prefix, its API tokens), top
    # first. A write is credited only to later reads whose prompt has its digest.
    prefix_fingerprints: tuple[tuple[str, int], ...] = ()
    # The stream ended before the API's final count: output_tokens is estimated from its text.
    output_estimated: bool = False
