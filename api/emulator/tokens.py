"""A deterministic token count: an approximation of Claude's tokenizer, not a copy of it.

Words cost one token per four characters (at least one), every other visible character costs
one, whitespace is free. Blocks add a small fixed framing cost. Images follow the documented
width x height / 750 estimate when their header gives a size. The same functions price the
prompt for `usage`, for the prompt cache and for `count_tokens`, so the three always agree.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from api.emulator.images import MAX_IMAGE_TOKENS, decoded, image_size, image_tokens

_PIECES = re.compile(r"\w+|[^\w\s]", re.UNICODE)

BLOCK_FRAMING_TOKENS = 3
MESSAGE_FRAMING_TOKENS = 4
PROMPT_TAIL_TOKENS = 3
TOOL_FRAMING_TOKENS = 12
IMAGE_MIN_TOKENS = 85
# An image whose header gives no size (or a URL image) is priced from its bytes, or at most.
IMAGE_BYTES_PER_TOKEN = 96
PDF_BYTES_PER_TOKEN = 6


def count_text(text: str) -> int:
    """Tokens in a piece of text."""
    total = 0
    for piece in _PIECES.findall(text):
        total += max(1, (len(piece) + 3) // 4) if piece[0].isalnum() or piece[0] == "_" else 1
    return total


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
    return body + extras


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
        body = count_text(str(block.get("name", ""))) + count_text(
            canonical_json(block.get("input", {}))
        )
    elif kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            body = count_text(content)
        else:
            body = sum(content_tokens(part) for part in content or [])
    elif kind == "thinking":
        body = count_text(str(block.get("thinking", "")))
    elif kind == "redacted_thinking":
        body = len(str(block.get("data", ""))) // 8
    else:
        body = count_text(canonical_json({k: v for k, v in block.items() if k != "cache_control"}))
    return body + BLOCK_FRAMING_TOKENS


def tool_tokens(tool: dict[str, Any]) -> int:
    """Tokens of one tool definition."""
    described = {k: v for k, v in tool.items() if k not in ("cache_control", "name")}
    return (
        count_text(str(tool.get("name", "")))
        + count_text(canonical_json(described))
        + TOOL_FRAMING_TOKENS
    )
