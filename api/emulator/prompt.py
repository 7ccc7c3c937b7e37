"""The prompt as the cache sees it: tools, then system, then message blocks, in one sequence.

Each position carries its tokens and the hash of the whole prefix ending at it, so a cache
entry is the prefix hash at a breakpoint. Settings that the documentation says invalidate a
level are mixed into that level's hashes: the model into everything; speed and the citations
toggle into system and messages; tool_choice, thinking and the presence of images into
messages.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from api.emulator.errors import invalid
from api.emulator.models import ModelSpec
from api.emulator.tokens import (
    MESSAGE_FRAMING_TOKENS,
    PROMPT_TAIL_TOKENS,
    canonical_json,
    content_tokens,
    format_prompt_tokens,
    thinking_framing_tokens,
    tool_prompt_tokens,
    tool_tokens,
)

MAX_BREAKPOINTS = 4
_UNCACHEABLE = ("thinking", "redacted_thinking")


@dataclass(frozen=True, slots=True)
class Position:
    """One block of the prompt, in cache order."""

    section: str
    path: str
    tokens: int
    prefix_tokens: int
    prefix_hash: str
    cacheable: bool


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """A block marked with cache_control: the prefix ending there may be written."""

    index: int
    ttl_seconds: int
    path: str
    """Where the cache_control sits, as error messages name it."""


@dataclass(frozen=True, slots=True)
class Prompt:
    """The flattened prompt with its breakpoints and total size."""

    positions: tuple[Position, ...]
    breakpoints: tuple[Breakpoint, ...]
    total_tokens: int
    model_id: str
    speed: str
    tools_hash: str
    system_hash: str
    settings_hash: str


TTL_SECONDS = {"5m": 300, "1h": 3600}


def text_blocks(content: Any) -> list[dict[str, Any]]:
    """Content as a list of blocks; a bare string is one text block."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content or [])


def _stripped(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stripped(v) for k, v in value.items() if k != "cache_control" and v is not None}
    if isinstance(value, list):
        return [_stripped(v) for v in value]
    return value


def _digest(*parts: str) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode())
        hasher.update(b"\x00")
    return hasher.hexdigest()


def _nested_marks(block: dict[str, Any]) -> list[dict[str, Any]]:
    marks = []
    content = block.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict):
                if part.get("cache_control"):
                    marks.append(part["cache_control"])
                marks.extend(_nested_marks(part))
    return marks


def _has_image(block: Any) -> bool:
    if not isinstance(block, dict):
        return False
    content = block.get("content")
    nested = content if isinstance(content, list) else []
    return block.get("type") == "image" or any(_has_image(part) for part in nested)


def _uses_images(messages: list[dict[str, Any]]) -> bool:
    return any(
        _has_image(block) for message in messages for block in text_blocks(message.get("content"))
    )


def _citations_on(messages: list[dict[str, Any]]) -> bool:
    return any(
        (block.get("citations") or {}).get("enabled") is True
        for message in messages
        for block in text_blocks(message.get("content"))
        if block.get("type") in ("document", "search_result")
    )


def _is_cacheable(block: dict[str, Any]) -> bool:
    if block.get("type") in _UNCACHEABLE:
        return False
    return not (block.get("type") == "text" and not block.get("text"))


def _counted_tokens(block: dict[str, Any], in_last_assistant: bool) -> int:
    # Thinking from earlier assistant turns is dropped from context and not counted.
    if block.get("type") in _UNCACHEABLE and not in_last_assistant:
        return 0
    return content_tokens(block)


def _preamble_tokens(body: dict[str, Any], model: ModelSpec) -> int:
    """What the API puts before the tools: the tool-use system prompt, cached with them."""
    if not body.get("tools"):
        return 0
    return tool_prompt_tokens(model.thinking, body.get("tool_choice"))


def _tail_tokens(body: dict[str, Any], model: ModelSpec) -> int:
    """What the API adds after the messages: the output format's and thinking's prompts."""
    output_format = (body.get("output_config") or {}).get("format") or body.get("output_format")
    return (
        PROMPT_TAIL_TOKENS
        + format_prompt_tokens(output_format)
        + thinking_framing_tokens(body.get("thinking"), model.thinking)
    )


def build_prompt(body: dict[str, Any], model: ModelSpec) -> Prompt:
    """Flatten a validated request into cache order and find its breakpoints."""
    model_id = model.id
    tools = list(body.get("tools") or [])
    system = text_blocks(body.get("system"))
    messages = list(body.get("messages") or [])
    system_salt = canonical_json({"speed": body.get("speed"), "citations": _citations_on(messages)})
    thinking = body.get("thinking") or {}
    settings = {
        "tool_choice": body.get("tool_choice"),
        "thinking": {k: thinking.get(k) for k in ("type", "budget_tokens")},
        "images": _uses_images(messages),
    }
    messages_salt = canonical_json(settings)

    positions: list[Position] = []
    marks: list[tuple[int, dict[str, Any], str]] = []
    running_hash = _digest("model", model_id)
    running_tokens = _preamble_tokens(body, model)

    def add(section: str, path: str, block: dict[str, Any], tokens: int, salt: str) -> None:
        nonlocal running_hash, running_tokens
        running_hash = _digest(running_hash, section, salt, canonical_json(_stripped(block)))
        running_tokens += tokens
        positions.append(
            Position(section, path, tokens, running_tokens, running_hash, _is_cacheable(block))
        )
        for mark in ([block["cache_control"]] if block.get("cache_control") else []) + (
            _nested_marks(block)
        ):
            marks.append((len(positions) - 1, mark, f"{path}.cache_control"))

    for i, tool in enumerate(tools):
        add("tools", f"tools.{i}", tool, tool_tokens(tool), "")
    tools_hash = running_hash
    for i, block in enumerate(system):
        add("system", f"system.{i}", block, content_tokens(block), system_salt)
    system_hash = _digest(system_salt, *(canonical_json(_stripped(b)) for b in system))
    last = len(messages) - 1
    for m, message in enumerate(messages):
        role = str(message.get("role"))
        in_last_assistant = m == last and role == "assistant"
        for j, block in enumerate(text_blocks(message.get("content"))):
            tokens = _counted_tokens(block, in_last_assistant)
            if j == 0:
                tokens += MESSAGE_FRAMING_TOKENS
            add(
                "messages",
                f"messages.{m}.content.{j}",
                block,
                tokens,
                f"{messages_salt}|{role}|{j}",
            )

    breakpoints = _breakpoints(positions, marks, body.get("cache_control"))
    return Prompt(
        positions=tuple(positions),
        breakpoints=breakpoints,
        total_tokens=running_tokens + _tail_tokens(body, model),
        model_id=model_id,
        speed=str(body.get("speed") or "standard"),
        tools_hash=tools_hash,
        system_hash=system_hash,
        settings_hash=messages_salt,
    )


def _ttl_of(mark: dict[str, Any]) -> int:
    return TTL_SECONDS[str(mark.get("ttl") or "5m")]


def _breakpoints(
    positions: list[Position],
    marks: list[tuple[int, dict[str, Any], str]],
    automatic: dict[str, Any] | None,
) -> tuple[Breakpoint, ...]:
    points = [Breakpoint(index, _ttl_of(mark), path) for index, mark, path in marks]
    if len(points) > MAX_BREAKPOINTS:
        raise invalid(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(points)}."
        )
    if automatic:
        # Automatic caching marks the last cacheable block, walking back over ineligible ones.
        target = next(
            (i for i in range(len(positions) - 1, -1, -1) if positions[i].cacheable), None
        )
        existing = next((p for p in points if p.index == target), None)
        if existing is not None and existing.ttl_seconds != _ttl_of(automatic):
            raise invalid(
                f"{existing.path}.ttl: the top-level cache_control ttl must match "
                "the cache_control ttl of the last cacheable block."
            )
        if target is not None and existing is None:
            if len(points) == MAX_BREAKPOINTS:
                raise invalid(
                    f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                    f"Found {MAX_BREAKPOINTS + 1}."
                )
            points.append(Breakpoint(target, _ttl_of(automatic), "cache_control"))
    points.sort(key=lambda p: p.index)
    seen_short = False
    for point in points:
        if point.ttl_seconds == TTL_SECONDS["5m"]:
            seen_short = True
        elif seen_short:
            raise invalid(
                f"{point.path}.ttl: a ttl='1h' cache_control block must not come "
                "after a ttl='5m' cache_control block. Note that blocks are processed in the "
                "following order: `tools`, `system`, `messages`."
            )
    return tuple(points)
