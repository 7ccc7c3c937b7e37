"""Token counts calibrated against recorded real API traffic.

Text is counted with the byte-pair vocabulary Anthropic published for its earlier models
(data/claude-v1-tokenizer.json.gz, MIT; see data/SOURCE.md). Today's tokenizer is not public,
but on recorded traffic this one counts English prose within about 2% (a 5,400-character
prompt: 1,101 here, 1,114 from the real count_tokens with its framing).

On top of the text the API adds framing nobody sends, measured from recorded traffic
(tests/replay/ replays it): a few tokens per request and per message, a tool-use system prompt
whose size depends on the model generation and on tool_choice, a prompt for the JSON output
format, and a few tokens for thinking. Images follow the documented width x height / 750
estimate when their header gives a size. The same functions price the prompt for `usage`, for
the prompt cache and for `count_tokens`, so the three always agree.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from functools import cache
from importlib import resources
from typing import Any

from tokenizers import Tokenizer

from api.emulator.images import MAX_IMAGE_TOKENS, decoded, image_size, image_tokens

# Framing measured on recorded traffic (2025-08 to 2026-09, claude-haiku-4-5 .. claude-opus-5):
# one user message alone counts its text + 7 or 8; each further message about 4 more; a
# tool_use / tool_result round about 45 with its two messages. With automatic caching on the
# last block the real API reported input_tokens 3: the tail after the messages.
MESSAGE_FRAMING_TOKENS = 4
PROMPT_TAIL_TOKENS = 3
TOOL_USE_FRAMING_TOKENS = 25
TOOL_RESULT_FRAMING_TOKENS = 12
DOCUMENT_FRAMING_TOKENS = 10
# The tool-use system prompt, by generation and tool_choice. Recorded single-turn requests
# left 283-331 tokens beyond the tool definitions on the 4.5 generation with `auto`, 345 with
# `any`; 403-510 on the 4.6 generation and later with `auto`, about 590 with `any`.
TOOL_PROMPT_TOKENS = {
    "budget": {"auto": 320, "forced": 340},
    "adaptive": {"auto": 460, "forced": 590},
}
# output_config.format: 205 tokens beyond the text on claude-sonnet-4-5 for a 45-token schema.
FORMAT_PROMPT_TOKENS = 160
# Thinking: `enabled` added 28 (claude-sonnet-4-5, claude-sonnet-4-0); `adaptive` 17 on
# claude-opus-4-6, 5 on claude-opus-4-7 and none on claude-opus-4-8 and claude-opus-5.
ENABLED_THINKING_TOKENS = 28
ADAPTIVE_THINKING_TOKENS = {"both": 17}
IMAGE_MIN_TOKENS = 85
# An image whose header gives no size (or a URL image) is priced from its bytes, or at most.
IMAGE_BYTES_PER_TOKEN = 96
PDF_BYTES_PER_TOKEN = 6


@cache
def _tokenizer() -> Tokenizer:
    packed = resources.files("api.emulator").joinpath("data/claude-v1-tokenizer.json.gz")
    return Tokenizer.from_str(gzip.decompress(packed.read_bytes()).decode())


def count_text(text: str) -> int:
    """Tokens in a piece of text."""
    if not text:
        return 0
    return len(_tokenizer().encode(text, add_special_tokens=False).ids)


def tool_prompt_tokens(thinking_modes: str, tool_choice: dict[str, Any] | None) -> int:
    """The tool-use system prompt the API adds to a request that has tools."""
    generation = "budget" if thinking_modes == "budget" else "adaptive"
    forced = (tool_choice or {}).get("type") in ("any", "tool")
    return TOOL_PROMPT_TOKENS[generation]["forced" if forced else "auto"]


def format_prompt_tokens(output_format: dict[str, Any] | None) -> int:
    """The JSON output format's prompt: a fixed preamble and the schema itself."""
    if not output_format:
        return 0
    return FORMAT_PROMPT_TOKENS + count_text(canonical_json(output_format.get("schema") or {}))


def thinking_framing_tokens(thinking: dict[str, Any] | None, thinking_modes: str) -> int:
    """What asking for thinking adds to the prompt."""
    kind = (thinking or {}).get("type")
    if kind == "enabled":
        return ENABLED_THINKING_TOKENS
    if kind == "adaptive":
        return ADAPTIVE_THINKING_TOKENS.get(thinking_modes, 0)
    return 0


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces, the form hashed and counted everywhere."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data) * 3 // 4


def _image_tokens(source: dict[str, Any]) -> int:
    if source.get("type") != "base64":
        return MAX_IMAGE_TOKENS
    data = decoded(source)
    size = image_size(data)
    if size is not None:
        return image_tokens(*size)
    return min(MAX_IMAGE_TOKENS, max(IMAGE_MIN_TOKENS, len(data) // IMAGE_BYTES_PER_TOKEN))


def _document_tokens(block: dict[str, Any]) -> int:
    source = block.get("source") or {}
    kind = source.get("type")
    if kind == "text":
        body = count_text(str(source.get("data", "")))
    elif kind == "content":
        content = source.get("content")
        body = (
            count_text(content)
            if isinstance(content, str)
            else sum(content_tokens(part) for part in content or [])
        )
    elif kind == "base64":
        body = _decoded_size(str(source.get("data", ""))) // PDF_BYTES_PER_TOKEN
    else:
        body = MAX_IMAGE_TOKENS
    extras = count_text(str(block.get("title") or "")) + count_text(str(block.get("context") or ""))
    return body + extras + DOCUMENT_FRAMING_TOKENS


def content_tokens(block: dict[str, Any]) -> int:
    """Tokens of one content block as the model reads it."""
    kind = block.get("type")
    if kind == "text":
        body = count_text(str(block.get("text", "")))
    elif kind == "image":
        body = _image_tokens(block.get("source") or {})
    elif kind == "document":
        body = _document_tokens(block)
    elif kind == "search_result":
        body = count_text(str(block.get("source", ""))) + count_text(str(block.get("title", "")))
        body += sum(content_tokens(part) for part in block.get("content") or [])
    elif kind in ("tool_use", "server_tool_use"):
        body = TOOL_USE_FRAMING_TOKENS + count_text(str(block.get("name", "")))
        body += count_text(canonical_json(block.get("input", {})))
    elif kind == "tool_result":
        content = block.get("content")
        body = TOOL_RESULT_FRAMING_TOKENS
        if isinstance(content, str):
            body += count_text(content)
        else:
            body += sum(content_tokens(part) for part in content or [])
    elif kind == "thinking":
        body = count_text(str(block.get("thinking", "")))
    elif kind == "redacted_thinking":
        body = len(str(block.get("data", ""))) // 8
    else:
        body = count_text(canonical_json({k: v for k, v in block.items() if k != "cache_control"}))
    return body


def tool_tokens(tool: dict[str, Any]) -> int:
    """Tokens of one tool definition."""
    described = {k: v for k, v in tool.items() if k not in ("cache_control", "name")}
    return count_text(str(tool.get("name", ""))) + count_text(canonical_json(described))
