"""The SSE stream of a Message, event for event as the streaming documentation shows it.

message_start (with usage) -> per block: content_block_start, content_block_delta...,
content_block_stop (a ping after the first start) -> message_delta (stop_reason and cumulative
usage) -> message_stop. Stream faults: `midstream_error` is an `error` event after the first
delta, `error_before_text` one right after message_start, and `cut_midstream` drops the
connection halfway through the first block, before message_delta ever comes.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from api.emulator.errors import error_object
from api.emulator.tokens import count_text

_CHUNK = re.compile(r"\S+\s*|\s+")
WORDS_PER_DELTA = 3
JSON_CHARS_PER_DELTA = 24


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event; the SDK ignores events without an `event:` line."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _text_pieces(text: str) -> list[str]:
    words = _CHUNK.findall(text)
    return ["".join(words[i : i + WORDS_PER_DELTA]) for i in range(0, len(words), WORDS_PER_DELTA)]


def _block_start(block: dict[str, Any]) -> dict[str, Any]:
    if block["type"] == "text":
        return {"type": "text", "text": ""}
    if block["type"] == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    return {
        "type": "tool_use",
        "id": block["id"],
        "name": block["name"],
        "input": {},
        "caller": block["caller"],
    }


def _deltas(block: dict[str, Any]) -> list[dict[str, Any]]:
    if block["type"] == "text":
        deltas = [{"type": "text_delta", "text": p} for p in _text_pieces(block["text"])]
        deltas += [{"type": "citations_delta", "citation": c} for c in block.get("citations") or []]
        return deltas
    if block["type"] == "thinking":
        deltas = [
            {"type": "thinking_delta", "thinking": p} for p in _text_pieces(block["thinking"])
        ]
        return [*deltas, {"type": "signature_delta", "signature": block["signature"]}]
    raw = json.dumps(block["input"])
    pieces = [raw[i : i + JSON_CHARS_PER_DELTA] for i in range(0, len(raw), JSON_CHARS_PER_DELTA)]
    return [{"type": "input_json_delta", "partial_json": p} for p in ["", *pieces]]


def _delta_tokens(delta: dict[str, Any]) -> int:
    text = delta.get("text") or delta.get("thinking") or delta.get("partial_json") or ""
    return count_text(str(text))


async def stream_message(
    message: dict[str, Any],
    *,
    on_begin: Callable[[], None],
    ttft_seconds: float,
    tokens_per_second: float,
    fault: str | None = None,
    drop_connection: Callable[[], None] = lambda: None,
) -> AsyncIterator[bytes]:
    """The events of message, paced; `on_begin` runs as the response begins.

    fault is one of the stream faults above; drop_connection closes the client's connection.
    """
    await asyncio.sleep(ttft_seconds)
    on_begin()
    usage = message["usage"]
    started = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": min(1, usage["output_tokens"])},
    }
    yield sse("message_start", {"type": "message_start", "message": started})
    if fault == "error_before_text":
        yield sse(
            "error", {"type": "error", "error": error_object("overloaded_error", "Overloaded")}
        )
        return
    for index, block in enumerate(message["content"]):
        start = {
            "type": "content_block_start",
            "index": index,
            "content_block": _block_start(block),
        }
        yield sse("content_block_start", start)
        if index == 0:
            yield sse("ping", {"type": "ping"})
        deltas = _deltas(block)
        for number, delta in enumerate(deltas, start=1):
            await asyncio.sleep(_delta_tokens(delta) / tokens_per_second)
            yield sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
            if fault == "cut_midstream" and number >= len(deltas) // 2:
                # Closing flushes what was sent: the client reads the deltas, then the end.
                drop_connection()
                return
            if fault == "midstream_error":
                error = error_object("overloaded_error", "Overloaded")
                yield sse("error", {"type": "error", "error": error})
                return
        yield sse("content_block_stop", {"type": "content_block_stop", "index": index})
    final_usage = {
        key: usage[key]
        for key in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
            "output_tokens_details",
            "server_tool_use",
        )
    }
    delta = {
        "stop_reason": message["stop_reason"],
        "stop_sequence": message["stop_sequence"],
        "stop_details": message["stop_details"],
    }
    yield sse("message_delta", {"type": "message_delta", "delta": delta, "usage": final_usage})
    yield sse("message_stop", {"type": "message_stop"})
