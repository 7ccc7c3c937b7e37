"""Token estimates for planning a Claude request before it is sent.

Layer sizes (does a layer reach the model's minimum cacheable length?), dry runs and the
context-window guard need a count before the API gives one. Claude's tokenizer is not public;
these estimates are calibrated against token counts the real API reported for recorded
requests (tests/replay/recorded/, checked by tests/replay/test_estimates.py): English prose
within a few percent, requests with tools within about a third (the tool-use system prompt
the API adds varies with the tools).

Text: a word of up to six ASCII letters is one token and every four letters beyond add one; a
run of up to three digits, two adjacent punctuation marks, and each letter of a non-Latin
script are one token each; a single space or newline joins the next token, and a longer run
of whitespace costs one.
On top of the text the API adds framing nobody sends, measured from the same recordings.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from rag.models import ModelInfo

_PIECES = re.compile(r"[^\W\d_]+|\d{1,3}|\s+|[^\w\s]+|_", re.UNICODE)
_LETTERS_IN_FIRST_TOKEN = 6
_LETTERS_PER_FURTHER_TOKEN = 4

MESSAGE_FRAMING_TOKENS = 4
# After the last block: the recorded input_tokens with automatic caching on the last block.
PROMPT_TAIL_TOKENS = 3
TOOL_USE_FRAMING_TOKENS = 25
TOOL_RESULT_FRAMING_TOKENS = 12
DOCUMENT_FRAMING_TOKENS = 10
# The tool-use system prompt: 283-345 recorded tokens beyond the tools on models that take a
# thinking budget only (the 4.5 generation), 403-590 on later ones; more when a tool is forced.
# Keyed by (takes a thinking budget only, tool forced).
_TOOL_PROMPT_TOKENS = {
    (True, False): 320,
    (True, True): 340,
    (False, False): 460,
    (False, True): 590,
}
# output_config.format: recorded 205 tokens beyond the text for a 45-token schema.
JSON_FORMAT_TOKENS = 160
ENABLED_THINKING_TOKENS = 28
# Adaptive thinking added 17 tokens on the 4.6 generation and none on later models.
ADAPTIVE_THINKING_TOKENS_4_6 = 17
# An image at the recommended size; a planner would rather over-count than under-count it.
IMAGE_TOKENS = 1_600


# A chunk's text is counted many times on its way into one request (the retrieval budget, the
# context sizing, each layer of the draft and of the marked prompt) and again whenever a later
# question finds it: counts of texts up to a chunk's size are remembered.
_REMEMBERED_TEXTS = 2048
_REMEMBERED_MAX_CHARS = 4096


def estimate_text_tokens(text: str) -> int:
    """Tokens Claude would count for a piece of text."""
    if len(text) > _REMEMBERED_MAX_CHARS:
        return _count_text_tokens(text)
    return _remembered_text_tokens(text)


@functools.lru_cache(maxsize=_REMEMBERED_TEXTS)
def _remembered_text_tokens(text: str) -> int:
    return _count_text_tokens(text)


def _count_text_tokens(text: str) -> int:
    total = 0
    for piece in _PIECES.findall(text):
        first = piece[0]
        if first.isspace():
            total += 0 if piece in (" ", "\n") else 1
        elif first.isalpha() and piece.isascii():
            extra = max(0, len(piece) - _LETTERS_IN_FIRST_TOKEN)
            total += 1 + extra // _LETTERS_PER_FURTHER_TOKEN
        elif first.isalpha():
            total += len(piece)
        else:
            # Runs of marks merge in pairs: `{"`, `":`, `),`, `**`.
            total += (len(piece) + 1) // 2
    return total


def _json_tokens(value: Any) -> int:
    return estimate_text_tokens(json.dumps(value, sort_keys=True, separators=(",", ":")))


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return estimate_text_tokens(content)
    return sum(estimate_block_tokens(block) for block in content or [])


def estimate_block_tokens(block: Mapping[str, Any]) -> int:
    """Tokens of one Messages API content block (text, search_result, document, tools...)."""
    kind = block.get("type")
    if kind == "text":
        return estimate_text_tokens(str(block.get("text", "")))
    if kind == "search_result":
        labels = f"{block.get('source', '')} {block.get('title', '')}"
        return estimate_text_tokens(labels) + _content_tokens(block.get("content"))
    if kind == "document":
        source = block.get("source") or {}
        body = source.get("data") if source.get("type") == "text" else source.get("content")
        labels = f"{block.get('title') or ''} {block.get('context') or ''}"
        return DOCUMENT_FRAMING_TOKENS + estimate_text_tokens(labels) + _content_tokens(body)
    if kind == "tool_use":
        name = estimate_text_tokens(str(block.get("name", "")))
        return TOOL_USE_FRAMING_TOKENS + name + _json_tokens(block.get("input", {}))
    if kind == "tool_result":
        return TOOL_RESULT_FRAMING_TOKENS + _content_tokens(block.get("content"))
    if kind == "thinking":
        return estimate_text_tokens(str(block.get("thinking", "")))
    if kind == "image":
        return IMAGE_TOKENS
    return _json_tokens({k: v for k, v in block.items() if k != "cache_control"})


def estimate_tools_tokens(
    tools: Iterable[Mapping[str, Any]],
    tool_choice: Mapping[str, Any] | None,
    model: ModelInfo | None,
) -> int:
    """Tool definitions plus the tool-use system prompt the API adds when there are any."""
    definitions = [
        _json_tokens({k: v for k, v in tool.items() if k != "cache_control"}) for tool in tools
    ]
    if not definitions:
        return 0
    return estimate_tool_prompt_tokens(tool_choice, model) + sum(definitions)


def estimate_tool_prompt_tokens(
    tool_choice: Mapping[str, Any] | None, model: ModelInfo | None
) -> int:
    """The tool-use system prompt alone (the newest generation's when model is None)."""
    older = model is not None and not model.takes_adaptive_thinking
    forced = (tool_choice or {}).get("type") in ("any", "tool")
    return _TOOL_PROMPT_TOKENS[(older, forced)]


def _thinking_tokens(thinking: Mapping[str, Any] | None, model: ModelInfo) -> int:
    kind = (thinking or {}).get("type")
    if kind == "enabled":
        return ENABLED_THINKING_TOKENS
    if kind == "adaptive" and model.takes_thinking_budget:
        return ADAPTIVE_THINKING_TOKENS_4_6
    return 0


def estimate_request_tokens(params: Mapping[str, Any], model: ModelInfo) -> int:
    """The whole prompt of a Messages API request, as count_tokens would report it."""
    system = params.get("system") or []
    total = estimate_tools_tokens(params.get("tools") or [], params.get("tool_choice"), model)
    total += _content_tokens(system)
    for message in params.get("messages") or []:
        total += MESSAGE_FRAMING_TOKENS + _content_tokens(message.get("content"))
    output_format = (params.get("output_config") or {}).get("format")
    if output_format:
        total += JSON_FORMAT_TOKENS + _json_tokens(output_format.get("schema") or {})
    return total + _thinking_tokens(params.get("thinking"), model) + PROMPT_TAIL_TOKENS
