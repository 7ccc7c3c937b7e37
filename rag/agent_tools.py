"""The tools agentic answering gives Claude: `search_documents` and `get_document`.

The definitions are built from settings only, never from the request or the corpus, so the
tools layer is the same bytes on every call and caches with the system prompt (breakpoint 1).
Found chunks go back as search_result blocks with citations on, so the answer can cite them;
each title carries the chunk's document id, which is what `get_document` takes.

Running a tool never raises for a bad call: an unknown tool, invalid input or an unknown
document comes back as an error result (`is_error: true`) that Claude reads and can recover
from. Failures of Strata itself (the store, the embedder) still raise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rag.prompt import Block, order_chunks, search_result_block
from rag.retrieval import Retriever
from rag.tokens import TOOL_RESULT_FRAMING_TOKENS, estimate_block_tokens, estimate_text_tokens
from rag.tracing import NO_TRACING, TraceSpan, Tracing
from rag.types import Chunk

SEARCH_TOOL = "search_documents"
DOCUMENT_TOOL = "get_document"


def tool_definitions(max_top_k: int) -> list[Block]:
    """The tools block of an agentic request; the same bytes for the same max_top_k."""
    return [
        {
            "name": SEARCH_TOOL,
            "description": (
                "Search the user's documents for passages relevant to a query. Returns the best "
                "matching passages as search results you can cite; each title ends with the "
                "document_id of the document the passage comes from. Search again with other "
                "words when the results do not answer the question."
            ),
            "input_schema": {
                "type": "object",
                "properties": {
                    "query": {
                        "type": "string",
                        "description": "What to look for, in words likely to appear in the text.",
                    },
                    "top_k": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": max_top_k,
                        "description": "How many passages to return.",
                    },
                },
                "required": ["query"],
            },
        },
        {
            "name": DOCUMENT_TOOL,
            "description": (
                "Read a whole document, passage by passage in reading order, by the document_id "
                "shown in a search result's title. Use it when a question needs more of a "
                "document than the passages a search found. Long documents are cut to a token "
                "budget, and the result says so."
            ),
            "input_schema": {
                "type": "object",
                "properties": {
                    "document_id": {
                        "type": "string",
                        "description": "The document_id from a search result's title.",
                    }
                },
                "required": ["document_id"],
            },
        },
    ]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool_use block of Claude's reply."""

    tool_use_id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What a tool call gave back, and the chunks its search_result blocks hold, in order."""

    call: ToolCall
    content: list[Block]
    chunks: tuple[Chunk, ...] = ()
    is_error: bool = False
    summary: str = ""

    def block(self) -> Block:
        """The tool_result block that answers the call."""
        result: Block = {
            "type": "tool_result",
            "tool_use_id": self.call.tool_use_id,
            "content": self.content,
        }
        if self.is_error:
            result["is_error"] = True
        return result

    def tokens(self) -> int:
        """The estimated tokens of its tool_result block in a request."""
        return estimate_block_tokens(self.block())

    def within(self, tokens: int) -> ToolOutcome:
        """This outcome, or its leading blocks that fit in tokens with a note on the rest.

        Whatever is cut, Claude is told how much it got and to answer from it; the chunks kept
        are those of the search_result blocks kept, so citations still point at them.
        tokens is at least CUT_RESULT_TOKENS.
        """
        if self.tokens() <= tokens:
            return self
        passages = sum(1 for block in self.content if block.get("type") == "search_result")
        kept: list[Block] = []
        used = CUT_RESULT_TOKENS
        for block in self.content:
            used += estimate_block_tokens(block)
            if used > tokens:
                break
            kept.append(block)
        sent = sum(1 for block in kept if block.get("type") == "search_result")
        note = _cut_note(sent, passages)
        return ToolOutcome(
            self.call,
            [*kept, {"type": "text", "text": note}],
            self.chunks[:sent],
            is_error=self.is_error or not kept,
            summary=f"{self.summary}; {note}" if self.summary else note,
        )


class ToolInputError(Exception):
    """A tool call Claude got wrong; it goes back to Claude as an error result."""


def _cut_note(sent: int, found: int) -> str:
    return (
        f"The context window is full: {sent} of {found} passages of this result were sent. "
        "Answer from what you have."
    )


# The most a cut tool_result takes beyond the blocks it keeps: framing and the note.
CUT_RESULT_TOKENS = TOOL_RESULT_FRAMING_TOKENS + estimate_text_tokens(_cut_note(999, 999)) + 2


def refused_call(call: ToolCall, message: str) -> ToolOutcome:
    """An error outcome for call, carrying message for Claude to read."""
    return ToolOutcome(call, [{"type": "text", "text": message}], is_error=True, summary=message)


@dataclass
class DocumentTools:
    """Runs the agent's tools over the retriever and the chunk store."""

    retriever: Retriever
    chunks_of: Callable[[str], list[Chunk]]
    default_top_k: int
    max_top_k: int
    # Most passage tokens one get_document result carries.
    document_token_budget: int
    tracing: Tracing = NO_TRACING

    def definitions(self) -> list[Block]:
        """The tools block these tools are offered with."""
        return tool_definitions(self.max_top_k)

    async def run(self, call: ToolCall, trace: TraceSpan | None = None) -> ToolOutcome:
        """The outcome of call; a call Claude got wrong is an error outcome, not an exception."""
        attributes = {"strata.tool": call.name}
        with self.tracing.span("strata.tool", trace, attributes) as span:
            try:
                if call.name == SEARCH_TOOL:
                    outcome = await self._search(call, span)
                elif call.name == DOCUMENT_TOOL:
                    outcome = await self._document(call)
                else:
                    raise ToolInputError(
                        f"there is no tool {call.name!r}; use {SEARCH_TOOL} or {DOCUMENT_TOOL}"
                    )
            except ToolInputError as exc:
                outcome = refused_call(call, str(exc))
            span.set({"strata.tool_error": outcome.is_error, "strata.chunks": len(outcome.chunks)})
        return outcome

    async def _search(self, call: ToolCall, span: TraceSpan) -> ToolOutcome:
        query = call.input.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ToolInputError(f"{SEARCH_TOOL} needs a non-empty `query` string")
        top_k = call.input.get("top_k", self.default_top_k)
        if isinstance(top_k, bool) or not isinstance(top_k, int):
            raise ToolInputError(f"{SEARCH_TOOL}: `top_k` must be an integer")
        if not 1 <= top_k <= self.max_top_k:
            raise ToolInputError(f"{SEARCH_TOOL}: `top_k` must be between 1 and {self.max_top_k}")
        found = order_chunks(await self.retriever.retrieve(query, top_k, span))
        if not found:
            message = f"No passage matched {query!r}. Try other words."
            return ToolOutcome(call, [{"type": "text", "text": message}], summary=message)
        documents = len({chunk.document_id for chunk in found})
        summary = f"{_counted(len(found), 'passage')} from {_counted(documents, 'document')}"
        return ToolOutcome(call, [_passage(c) for c in found], found, summary=summary)

    async def _document(self, call: ToolCall) -> ToolOutcome:
        document_id = call.input.get("document_id")
        if not isinstance(document_id, str) or not document_id.strip():
            raise ToolInputError(f"{DOCUMENT_TOOL} needs a `document_id` string")
        chunks = await asyncio.to_thread(self.chunks_of, document_id.strip())
        if not chunks:
            raise ToolInputError(
                f"no document has the id {document_id!r}; use a document_id from the title of "
                f"a {SEARCH_TOOL} result"
            )
        kept: list[Chunk] = []
        used = 0
        for chunk in chunks:
            used += estimate_text_tokens(chunk.text)
            if used > self.document_token_budget and kept:
                break
            kept.append(chunk)
        content = [_passage(chunk) for chunk in kept]
        summary = f"{kept[0].source}: {len(kept)} of {len(chunks)} passages"
        if len(kept) < len(chunks):
            content.append(
                {
                    "type": "text",
                    "text": f"The document continues: only its first {len(kept)} of "
                    f"{len(chunks)} passages fit the token budget. Search it for the rest.",
                }
            )
        return ToolOutcome(call, content, tuple(kept), summary=summary)


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _passage(chunk: Chunk) -> Block:
    block = search_result_block(chunk)
    return {**block, "title": f"{block['title']} (document_id: {chunk.document_id})"}
