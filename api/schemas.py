"""Request and response models: the wire contract of SPEC section 9, in one place."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from rag.models import MODELS

ThinkingEffort = Literal["low", "medium", "high", "max"]


# A question needs one character that is not ASCII white space. Spelled out as a class rather
# than \S, whose meaning differs between Python and JSON Schema regexes on control characters.
_NOT_BLANK = r"[^ \t\n\r\f\v]"


class ThinkingEffortOption(BaseModel):
    """Adaptive thinking at an effort level (models with adaptive thinking)."""

    model_config = ConfigDict(extra="forbid")

    effort: ThinkingEffort


class ThinkingBudgetOption(BaseModel):
    """Thinking within a token budget (models that still take one)."""

    model_config = ConfigDict(extra="forbid")

    budget_tokens: int = Field(ge=1024, description="At least 1024, below max_tokens.")


class AskRequest(BaseModel):
    """POST /v1/ask: a question and the options of SPEC section 9."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, pattern=_NOT_BLANK, description="The question to answer.")
    stream: bool = Field(True, description="Server-sent events (default) or one JSON answer.")
    conversation_id: str | None = Field(None, description="Continue this conversation.")
    model: str | None = Field(None, description="A model of the model table; default STRATA_MODEL.")
    top_k: int | None = Field(None, ge=1, description="Chunks to retrieve; default STRATA_TOP_K.")
    thinking: ThinkingEffort | ThinkingEffortOption | ThinkingBudgetOption | None = Field(
        None,
        description="Extended thinking, off by default: an effort level `low`, `medium`, "
        '`high` or `max` (models with adaptive thinking), or `{"budget_tokens": N}`, '
        "N >= 1024 (models that take a budget). Streams as `thinking` events.",
    )
    format: Literal["text", "json"] | None = Field(
        None,
        description="`json`: the answer as a validated object (answer, sources, confidence).",
    )
    agentic: bool | None = Field(
        None,
        description="Let Claude search the documents itself with the `search_documents` and "
        "`get_document` tools, in a loop; tool calls and results stream as `tool_call` and "
        "`tool_result` events. Not with format=json or dry_run.",
    )
    max_iterations: int | None = Field(
        None,
        ge=1,
        description="With agentic: most Claude calls in the loop; default "
        "STRATA_AGENT_MAX_ITERATIONS, at most STRATA_AGENT_MAX_ITERATIONS_LIMIT.",
    )
    dry_run: bool | None = Field(
        None, description="Count tokens and predict the cost, with and without caching; no answer."
    )


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
    structured: StructuredAnswerOut | None = Field(
        None, description="With format=json: the validated object; `answer` is its answer."
    )
    thinking: str | None = Field(None, description="With thinking: the visible thinking.")
    tool_calls: list[ToolCallOut] | None = Field(
        None, description="With agentic: the tools Claude called, in order, and what they gave."
    )
    iteration_limit: int | None = Field(
        None,
        description="With agentic: set to max_iterations when the loop stopped there with tools "
        "still wanted; the answer is what Claude had written by then.",
    )


class ToolCallOut(BaseModel):
    """One tool call of an agentic answer."""

    iteration: int = Field(description="The Claude call (from 1) that asked for the tool.")
    id: str
    name: str
    input: dict[str, Any]
    is_error: bool = Field(description="The call failed; Claude was told why and went on.")
    summary: str
    sources: list[SourceOut] = Field(description="The chunks the tool returned to Claude.")


class StructuredAnswerOut(BaseModel):
    """A format=json answer."""

    answer: str
    sources: list[str]
    confidence: float = Field(ge=0, le=1)


class LayerCostOut(BaseModel):
    """Tokens of one prompt layer in a dry run, and whether the cache is expected to hold it."""

    layer: str
    tokens: int
    marked: bool = Field(description="The request would carry a cache mark on this layer.")
    cached: bool = Field(description="Expected read from the prompt cache (see the assumption).")


class DryRunResponse(BaseModel):
    """POST /v1/ask with dry_run=true: the prompt's tokens and predicted cost, no answer."""

    model: str
    input_tokens: int = Field(description="The whole prompt, by Claude's count endpoint.")
    max_output_tokens: int
    layers: list[LayerCostOut]
    answer_cached: bool = Field(description="An identical answer is stored: it would cost $0.")
    predicted_cost_usd: float | None = Field(
        description="Input at the cache rates expected, plus max_output_tokens of output."
    )
    predicted_cost_without_cache_usd: float | None = Field(
        description="The same with no caching: the whole prompt at the input rate."
    )
    predicted_input_cost_usd: float | None
    predicted_input_cost_without_cache_usd: float | None
    assumption: str


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


class UsageTotals(BaseModel):
    """Sums over ledger rows. Costs leave out unpriced calls, which are counted apart."""

    calls: int
    unpriced_calls: int
    input_tokens: int
    cache_creation_input_tokens: int
    cache_creation_5m_input_tokens: int
    cache_creation_1h_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int
    cost_usd: float
    cost_without_cache_usd: float
    saved_usd: float = Field(description="cost_without_cache_usd - cost_usd: caching's net saving.")
    answer_cache_hits: int
    avoided_cost_usd: float = Field(
        description="What the calls the answer cache replaced cost (both tiers: exact, semantic)."
    )
    semantic_cache_hits: int = Field(description="Answers served for a paraphrase.")
    semantic_avoided_cost_usd: float = Field(
        description="What the calls the semantic tier replaced cost (part of avoided_cost_usd)."
    )
    semantic_audits: int = Field(
        description="Semantic hits answered anyway in the background and compared."
    )
    semantic_audit_disagreements: int = Field(
        description="Audits whose fresh answer disagreed with the one served."
    )
    routed_calls: int = Field(description="Calls routing sent to a cheaper model.")
    routing_saved_usd: float = Field(
        description="What those calls would have cost more on the model routing passed over."
    )


class WastedWrites(BaseModel):
    """Cache writes no later call read back before they expired."""

    calls: int
    tokens: int
    usd: float = Field(description="The write premium paid on those tokens.")
    pending_tokens: int = Field(description="Written tokens still live, not read back yet.")


class KeySpend(BaseModel):
    """A configured API key, by its id (a keyed hash, never the key), and its spend today."""

    key_id: str
    role: str
    daily_budget_usd: float | None = Field(description="None: the key has no daily budget.")
    spent_today_usd: float = Field(description="Priced calls since UTC midnight.")


class UsageSummary(UsageTotals):
    """GET /v1/usage/summary (SPEC section 9), with the period and the extra groupings."""

    since: datetime | None
    until: datetime | None
    offline: bool = Field(description="Answers come from the offline emulator.")
    wasted_writes: WastedWrites
    by_feature: dict[str, UsageTotals]
    by_model: dict[str, UsageTotals]
    by_day: dict[str, UsageTotals] | None = None
    by_layer: dict[str, UsageTotals] | None = None
    by_key: dict[str, UsageTotals] = Field(
        default_factory=dict,
        description="Totals per API key id (`k_…`, a keyed hash); `local` is no-key mode's "
        "caller, `None` calls no key made (ingest vision, the CLI).",
    )
    keys: list[KeySpend] = Field(default_factory=list)
    routing_net_saved_usd: float = Field(
        0.0,
        description="routing_saved_usd minus what the `route` classification calls cost: "
        "what routing saved after paying for its own decisions.",
    )


class LedgerEntry(BaseModel):
    """One recorded Claude call (or answer-cache hit)."""

    id: int
    started_at: datetime
    feature: str
    model: str
    conversation_id: str | None
    batch: bool
    input_tokens: int
    cache_creation_input_tokens: int
    cache_creation_5m_input_tokens: int
    cache_creation_1h_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int
    price_source: str
    cost_usd: float | None
    cost_without_cache_usd: float | None
    saved_usd: float | None
    latency_ms: float
    time_to_first_token_ms: float | None
    request_id: str | None
    http_request_id: str | None
    layer_hit: str
    cache_miss_reason: str | None
    cache_missed_input_tokens: int | None
    avoided_cost_usd: float | None
    cache_write_read_back_tokens: int
    error: str | None
    routed_from_model: str | None
    routing_saved_usd: float | None
    semantic_similarity: float | None = Field(
        description="Semantic hit or audit: cosine of the question and the cached one it matched."
    )
    semantic_question: str | None = Field(description="The cached question a semantic hit served.")
    semantic_audit_agreed: bool | None = Field(
        description="Audit: whether the fresh answer agreed with the one served."
    )
    output_estimated: bool = Field(
        description="The stream broke before Claude's final count: output_tokens is estimated "
        "from the text streamed."
    )


class UsageRequests(BaseModel):
    """GET /v1/usage/requests: one page of calls."""

    requests: list[LedgerEntry]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class LayerUsage(BaseModel):
    """How often one caching layer served the calls that carried it, and what it saved."""

    layer: str
    eligible_calls: int
    hits: int
    hit_rate: float | None
    saved_usd: float


class MissReasonUsage(BaseModel):
    """One cache-miss reason the API reported."""

    reason: str
    calls: int
    missed_tokens: int
    lost_usd: float = Field(description="What the missed tokens cost above a cache read.")


class TimelinePoint(BaseModel):
    """Spend and savings in one time bucket."""

    start: datetime
    calls: int
    cost_usd: float
    cost_without_cache_usd: float
    saved_usd: float


class UsageInsights(BaseModel):
    """GET /v1/usage/insights: layers, miss reasons and spend over time, for the dashboard."""

    since: datetime | None
    until: datetime | None
    layers: list[LayerUsage]
    miss_reasons: list[MissReasonUsage]
    bucket_seconds: int
    timeline: list[TimelinePoint]


JobStatusOut = Literal["queued", "running", "done", "failed"]


class UploadedJob(BaseModel):
    """One file of an upload and the job that ingests it (failed at once if it was refused)."""

    id: str
    filename: str
    status: JobStatusOut
    error: str | None = None


class UploadResponse(BaseModel):
    """POST /v1/documents (202): one job per file, in the order the files were sent."""

    jobs: list[UploadedJob]


class JobOut(BaseModel):
    """GET /v1/jobs/{id}: where an uploaded file is on its way into the index."""

    id: str
    filename: str
    status: JobStatusOut
    document_id: str | None = None
    error: str | None = None
    created_at: datetime
    updated_at: datetime


class DocumentOut(BaseModel):
    """One document of the registry."""

    document_id: str
    source: str
    title: str
    media_type: str
    size_bytes: int
    status: JobStatusOut
    chunk_count: int
    error: str | None = None
    created_at: datetime
    updated_at: datetime


class DocumentList(BaseModel):
    """GET /v1/documents: every document, and the corpus version answers are cached under."""

    documents: list[DocumentOut]
    corpus_version: str


class ChunkOut(BaseModel):
    """One chunk of a document, as it was embedded and stored."""

    chunk_id: str
    position: int
    heading_path: list[str]
    page: int | None = None
    char_start: int
    char_end: int
    text: str


class DocumentDetail(DocumentOut):
    """GET /v1/documents/{id}: the document and its chunks in reading order."""

    chunks: list[ChunkOut]


class DeletedDocument(BaseModel):
    """DELETE /v1/documents/{id}: what was removed."""

    document_id: str
    deleted_chunks: int


# Published in the document, so clients (and fuzzers) see which models a batch may name.
_BATCH_MODEL: JsonDict = {"enum": [*sorted(MODELS), None]}


class BatchQuestionRequest(BaseModel):
    """One question of a batch, with its own options."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, pattern=_NOT_BLANK, description="The question to answer.")
    model: str | None = Field(
        None,
        description="A model of the model table; default the batch's.",
        json_schema_extra=_BATCH_MODEL,
    )
    top_k: int | None = Field(None, ge=1, description="Chunks to retrieve; default the batch's.")


class BatchRequest(BaseModel):
    """POST /v1/batches: questions answered at the Message Batches API's half price."""

    model_config = ConfigDict(extra="forbid")

    questions: list[BatchQuestionRequest] = Field(
        min_length=1, description="The questions, each with its own options if wanted."
    )
    model: str | None = Field(
        None, description="Default model; default STRATA_MODEL.", json_schema_extra=_BATCH_MODEL
    )
    top_k: int | None = Field(None, ge=1, description="Default top_k; default STRATA_TOP_K.")


class BatchCounts(BaseModel):
    """How many questions are in each state; all stay `processing` until the batch ends."""

    processing: int
    succeeded: int
    errored: int
    canceled: int
    expired: int


class BatchOut(BaseModel):
    """A batch's status."""

    id: str
    status: Literal["in_progress", "canceling", "ended"]
    created_at: datetime
    ended_at: datetime | None
    questions: int
    request_counts: BatchCounts
    usage_recorded: bool = Field(description="True once every call is in the usage ledger.")
    results_url: str | None = Field(description="Where the results are, once the batch ended.")


class BatchResultOut(BaseModel):
    """One question's outcome: an answer with sources, citations and usage, or an error."""

    index: int
    question: str
    model: str
    status: Literal["succeeded", "errored", "canceled", "expired"]
    answer: str | None
    sources: list[SourceOut]
    citations: list[CitationOut]
    usage: UsageOut | None
    error: str | None


class BatchResults(BaseModel):
    """GET /v1/batches/{id}/results: every question, in the order asked."""

    batch: BatchOut
    results: list[BatchResultOut]
