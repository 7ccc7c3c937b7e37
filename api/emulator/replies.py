"""The assistant's reply to a validated request: thinking, tool calls, JSON or cited text."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from api.emulator.answers import Answer, answer, terms
from api.emulator.instances import Hints, instance_for
from api.emulator.models import ModelSpec
from api.emulator.options import is_custom_tool
from api.emulator.prompt import text_blocks
from api.emulator.thinking import thinking_block, thinking_mode
from api.emulator.tokens import count_text

_GENERIC_VERBS = frozenset({"get", "fetch", "run", "call", "make", "lookup", "use", "tool"})
_RETRIEVAL_WORDS = frozenset({"search", "find", "lookup", "retrieve", "query", "fetch"})


@dataclass(slots=True)
class Reply:
    """Content blocks and the stop they end with, before usage is attached."""

    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = "end_turn"
    stop_sequence: str | None = None
    output_tokens: int = 0
    thinking_tokens: int = 0


def _answers_tool_results(messages: list[dict[str, Any]]) -> bool:
    last = messages[-1]
    return any(b.get("type") == "tool_result" for b in text_blocks(last.get("content")))


def _named_tool_to_call(
    tools: list[dict[str, Any]], messages: list[dict[str, Any]], question: str
) -> dict[str, Any] | None:
    """The next tool the question names verbatim that this turn has not called yet.

    A question naming tools ("use search_documents, then get_document") gets each of them
    called once, in the order named, before the answer.
    """
    named = sorted(
        (t for t in tools if t["name"] in question), key=lambda t: question.index(t["name"])
    )
    asked_at = max(
        (i for i, m in enumerate(messages) if m.get("role") == "user" and _has_text(m)), default=0
    )
    called = {
        b.get("name")
        for m in messages[asked_at:]
        if m.get("role") == "assistant"
        for b in text_blocks(m.get("content"))
        if b.get("type") == "tool_use"
    }
    return next((t for t in named if t["name"] not in called), None)


def _has_text(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "text" for b in text_blocks(message.get("content")))


def _tool_terms(tool: dict[str, Any]) -> set[str]:
    return terms(str(tool["name"]).replace("_", " ").replace("-", " "))


def _pick_tool(body: dict[str, Any], found: Answer) -> dict[str, Any] | None:
    """The forced tool; on `auto`, one the question names or, with no quoted answer, a search.

    A model that no document, search result or tool result answers reaches for a tool that can
    fetch material, even when its system prompt or the user's text says something related.
    """
    tools: list[dict[str, Any]] = [t for t in body.get("tools") or [] if is_custom_tool(t)]
    choice = body.get("tool_choice") or {"type": "auto"}
    kind = choice.get("type")
    if not tools or kind == "none":
        return None
    if kind == "tool":
        return next(t for t in tools if t["name"] == choice["name"])
    wanted = terms(found.question)

    def overlap(tool: dict[str, Any]) -> int:
        return len((_tool_terms(tool) - _GENERIC_VERBS) & wanted)

    best = max(tools, key=overlap)
    if kind == "any":
        return best
    if any(t["name"] in found.question for t in tools):
        return _named_tool_to_call(tools, body["messages"], found.question)
    if _answers_tool_results(body["messages"]):
        return None
    if overlap(best):
        return best
    if not found.quoted:
        return next((t for t in tools if _tool_terms(t) & _RETRIEVAL_WORDS), None)
    return None


def _hints(found: Answer) -> Hints:
    sources = []
    for sentence in found.sentences:
        citation = sentence.citation or {}
        label = citation.get("source") or citation.get("document_title")
        if label and label not in sources:
            sources.append(str(label))
    return Hints(found.question, found.text, tuple(sources), bool(found.sentences))


def _text_blocks(found: Answer) -> list[dict[str, Any]]:
    if not any(s.citation for s in found.sentences):
        return [{"type": "text", "text": found.text}]
    last = len(found.sentences) - 1
    # The real API leaves `citations` out of a text block that has none.
    return [
        {"type": "text", "text": s.text + ("" if i == last else " ")}
        | ({"citations": [s.citation]} if s.citation else {})
        for i, s in enumerate(found.sentences)
    ]


def compose_reply(body: dict[str, Any], model: ModelSpec, new_tool_id: Callable[[], str]) -> Reply:
    """Decide what the assistant says, then cut it at max_tokens or a stop sequence."""
    found = answer(body["messages"], body.get("system"))
    blocks: list[dict[str, Any]] = []
    thought: tuple[dict[str, Any], int] | None = None
    if thinking_mode(body, model):
        thought = thinking_block(body, model, found)
    tool = _pick_tool(body, found)
    output_format = (body.get("output_config") or {}).get("format") or body.get("output_format")
    if tool is not None:
        forced = (body.get("tool_choice") or {}).get("type") in ("any", "tool")
        if not forced:
            blocks.append({"type": "text", "text": f"I'll use the {tool['name']} tool for this."})
        tool_input = instance_for(tool.get("input_schema"), _hints(found))
        blocks.append(
            {
                "type": "tool_use",
                "id": new_tool_id(),
                "name": tool["name"],
                "input": tool_input,
                "caller": {"type": "direct"},
            }
        )
    elif output_format:
        document = instance_for(output_format.get("schema"), _hints(found))
        blocks.append({"type": "text", "text": json.dumps(document)})
    else:
        blocks.extend(_text_blocks(found))
    planned = [thought] if thought else []
    planned += [(block, _block_tokens(block)) for block in blocks]
    return _fit(planned, body, "tool_use" if tool is not None else "end_turn")


def _block_tokens(block: dict[str, Any]) -> int:
    if block["type"] == "tool_use":
        return count_text(block["name"]) + count_text(json.dumps(block["input"]))
    return count_text(block["text"])


def _cut_text(text: str, budget: int) -> str:
    words = text.split(" ")
    kept: list[str] = []
    for word in words:
        if count_text(" ".join([*kept, word])) > budget:
            break
        kept.append(word)
    return " ".join(kept)


def _fit(
    planned: list[tuple[dict[str, Any], int]], body: dict[str, Any], stop_reason: str
) -> Reply:
    reply = Reply(stop_reason=stop_reason)
    budget = int(body["max_tokens"])
    for block, cost in planned:
        if block["type"] == "text":
            for stop in body.get("stop_sequences") or []:
                if stop in block["text"]:
                    block["text"] = block["text"][: block["text"].index(stop)]
                    reply.stop_reason, reply.stop_sequence = "stop_sequence", stop
                    cost = _block_tokens(block)
        if reply.output_tokens + cost > budget:
            remaining = budget - reply.output_tokens
            if block["type"] == "text" and remaining > 0:
                block["text"] = _cut_text(block["text"], remaining)
                reply.content.append(block)
                reply.output_tokens += count_text(block["text"])
            reply.stop_reason, reply.stop_sequence = "max_tokens", None
            break
        if block["type"] == "thinking":
            reply.thinking_tokens = cost
        reply.content.append(block)
        reply.output_tokens += cost
        if reply.stop_reason == "stop_sequence":
            break
    # Output is never reported as zero tokens, even for an empty reply.
    reply.output_tokens = max(reply.output_tokens, 1) if budget else 0
    return reply
