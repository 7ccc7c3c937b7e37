"""Request and response models: the wire contract of SPEC section 9, in one place."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AskRequest(BaseModel):
    """POST /v1/ask: a question and the options of SPEC section 9."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, description="The question to answer.")
    stream: bool = Field(True, description="Server-sent events (default) or one JSON answer.")
    conversation_id: str | None = Field(None, description="Continue this conversation.")
    model: str | None = Field(None, description="A model of the model table; default STRATA_MODEL.")
    top_k: int | None = Field(None, ge=1, description="Chunks to retrieve; default STRATA_TOP_K.")
    thinking: Any = Field(None, description="Extended thinking (not available yet).")
    format: str | None = Field(
        None, description="`json`: structured output (not yet available)."
    )
    agentic: bool | None = Field(None, description="Let Claude search itself (not available yet).")
    dry_run: bool | None = Field(None, description="Price without calling (not available yet).")


class SourceOut(BaseModel):
    """A chunk the answer was given over."""

    chunk_id: str
    document_id: str
    source: str
    title: str


class CitationOut(BaseModel):
    """A passage the answer cites."""

    cited_text: str
    source: str
    chunk_id: str | None = None
    document_id: str | None = None
    title: str | None = None


class UsageOut(BaseModel):
    """Tokens and money of one answer; saved_usd is caching's saving against no caching."""

    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int
    cost_usd: float | None
    cost_without_cache_usd: float | None
    saved_usd: float | None
    layer_hit: str


class AskResponse(BaseModel):
    """POST /v1/ask with stream=false."""

    conversation_id: str
    model: str
    answer: str
    sources: list[SourceOut]
    citations: list[CitationOut]
    usage: UsageOut
    answer_cached: bool


class SearchRequest(BaseModel):
    """POST /v1/search."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, description="What to look for.")
    top_k: int = Field(8, ge=1, description="How many chunks to return.")


class SearchHit(BaseModel):
    """One retrieved chunk."""

    chunk_id: str
    document_id: str
    source: str
    title: str
    text: str
    score: float


class SearchResponse(BaseModel):
    """The chunks found for a query, best first."""

    results: list[SearchHit]
