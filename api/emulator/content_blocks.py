"""Checks of single content blocks: text, images, documents, search results, cache marks."""

from __future__ import annotations

from typing import Any

from api.emulator.errors import invalid

CURRENT_VERSION = "2026-10-21"
_USER_BLOCKS = {"text", "image", "document", "search_result", "tool_result", "container_upload"}
_ASSISTANT_BLOCKS = {
    "text",
    "tool_use",
    "thinking",
    "redacted_thinking",
    "server_tool_use",
    "document",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
}
_TOOL_RESULT_BLOCKS = {"text", "image", "search_result", "document", "tool_reference"}
_ALLOWED = {
    "user": _USER_BLOCKS,
    "assistant": _ASSISTANT_BLOCKS,
    "tool_result": _TOOL_RESULT_BLOCKS,
}


def check_cache_control(mark: Any, path: str) -> None:
    """A block's cache_control: `{"type": "ephemeral", "ttl"?: "5m" | "1h"}` or absent."""
    if mark is None:
        return
    if not isinstance(mark, dict) or mark.get("type") != "ephemeral":
        raise invalid(f"{path}.cache_control.type: Input should be 'ephemeral'")
    if mark.get("ttl") not in (None, "5m", "1h"):
        raise invalid(f"{path}.cache_control.ttl: Input should be '5m' or '1h'")


def check_text_block(block: dict[str, Any], path: str) -> None:
    """A text block: a non-empty string, and no cache mark on an empty one."""
    if not isinstance(block.get("text"), str):
        raise invalid(f"{path}.text: Field required")
    if block.get("cache_control") and not block["text"]:
        raise invalid(f"{path}.text: cache_control cannot be set for empty text blocks")
    if not block["text"]:
        raise invalid("messages: text content blocks must be non-empty")
    check_cache_control(block.get("cache_control"), path)


def check_block(
    block: Any, path: str, role: str, version: str, citations: dict[str, set[bool]]
) -> None:
    """One content block of a message; records each citations setting seen in `citations`."""
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise invalid(f"{path}: Input should be a valid content block")
    kind = block["type"]
    if kind not in _ALLOWED.get(role, _USER_BLOCKS):
        raise invalid(f"{path}.type: '{kind}' blocks are not allowed in {role} messages")
    if kind == "document" and role == "assistant" and version == CURRENT_VERSION:
        raise invalid(f"{path}.type: document blocks are not allowed in assistant messages")
    if kind in ("thinking", "redacted_thinking") and "cache_control" in block:
        raise invalid(f"{path}.{kind}.cache_control: Extra inputs are not permitted")
    check_cache_control(block.get("cache_control"), path)
    if kind == "text":
        check_text_block(block, path)
        if role == "user" and block.get("citations") and version == CURRENT_VERSION:
            raise invalid(f"{path}.citations: citations are not accepted in user messages")
    elif kind in ("document", "search_result"):
        citations[kind].add(_citations_enabled(block, path))
        if kind == "search_result":
            _check_search_result(block, path, version)
        else:
            _check_document_source(block.get("source"), f"{path}.source")
    elif kind == "image":
        _check_image_source(block.get("source"), f"{path}.source")
    elif kind == "tool_result":
        _check_tool_result(block, path, version, citations)
    elif kind == "tool_use":
        _check_fields_of(block, path, {"id": str, "name": str, "input": dict})
    elif kind == "thinking":
        _check_fields_of(block, f"{path}.thinking", {"thinking": str, "signature": str})
    elif kind == "redacted_thinking":
        _check_fields_of(block, f"{path}.redacted_thinking", {"data": str})


def _check_fields_of(block: dict[str, Any], path: str, fields: dict[str, type]) -> None:
    for name, kind in fields.items():
        if not isinstance(block.get(name), kind):
            raise invalid(f"{path}.{name}: Field required")


def _check_tool_result(
    block: dict[str, Any], path: str, version: str, citations: dict[str, set[bool]]
) -> None:
    content = block.get("content")
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise invalid(f"{path}.content: Input should be a valid string or list")
    for k, part in enumerate(content):
        check_block(part, f"{path}.content.{k}", "tool_result", version, citations)


def _citations_enabled(block: dict[str, Any], path: str) -> bool:
    config = block.get("citations")
    if config is None:
        return False
    if not isinstance(config, dict) or not isinstance(config.get("enabled", False), bool):
        raise invalid(f"{path}.citations: Input should be {{'enabled': true | false}}")
    return bool(config.get("enabled"))


_SOURCE_FIELDS = {"base64": "data", "text": "data", "url": "url", "file": "file_id"}


def _check_document_source(source: Any, path: str) -> None:
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "content":
        content = source.get("content")
        parts = [content] if isinstance(content, str) else content
        if not isinstance(parts, list) or not all(
            isinstance(p, str) or (isinstance(p, dict) and p.get("type") in ("text", "image"))
            for p in parts
        ):
            raise invalid(f"{path}.content: Input should be a string or a list of text blocks")
        return
    if not isinstance(kind, str) or kind not in _SOURCE_FIELDS:
        raise invalid(f"{path}.type: Input should be 'base64', 'text', 'content', 'url' or 'file'")
    field = _SOURCE_FIELDS[kind]
    if not isinstance(source.get(field), str):
        raise invalid(f"{path}.{kind}.{field}: Field required")


_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
# Counted on the base64 text, as the API's 400 reports it.
MAX_IMAGE_BASE64_BYTES = 5 * 1024 * 1024


def _check_image_source(source: Any, path: str) -> None:
    kind = source.get("type") if isinstance(source, dict) else None
    if kind not in ("base64", "url", "file"):
        raise invalid(f"{path}.type: Input should be 'base64', 'url' or 'file'")
    if kind == "base64" and source.get("media_type") not in _IMAGE_TYPES:
        raise invalid(f"{path}.base64.media_type: Input should be one of {', '.join(_IMAGE_TYPES)}")
    field = _SOURCE_FIELDS[kind]
    if not isinstance(source.get(field), str):
        raise invalid(f"{path}.{kind}.{field}: Field required")
    size = len(source[field]) if kind == "base64" else 0
    if size > MAX_IMAGE_BASE64_BYTES:
        limit = MAX_IMAGE_BASE64_BYTES
        raise invalid(f"{path}.base64: image exceeds 5 MB maximum: {size} bytes > {limit} bytes")


def _check_search_result(block: dict[str, Any], path: str, version: str) -> None:
    for field in ("source", "title"):
        if not isinstance(block.get(field), str):
            raise invalid(f"{path}.{field}: Field required")
    content = block.get("content")
    if not isinstance(content, list) or not content:
        raise invalid(f"{path}.content: List should have at least 1 item after validation")
    for k, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "text":
            raise invalid(f"{path}.content.{k}.type: Input should be 'text'")
        check_text_block(part, f"{path}.content.{k}")
        if part.get("citations") and version == CURRENT_VERSION:
            raise invalid(
                f"{path}.content.{k}.citations: citations are not accepted in user messages"
            )
