"""A recording proxy in front of a Claude endpoint: every system under test is billed alike.

Each Messages call is forwarded unchanged and recorded with the API key that made it (one key
per arm and workload, so no arm reads another's prompt cache), the workload ask it belongs to
(set by `POST /_bench/ask {"ask": n}` with the same key before the ask), the request body and
the usage the response reported, streamed or not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.serving import serve_in_thread
from rag.types import Usage

_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "accept-encoding"}


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One billed Messages call."""

    api_key: str
    ask: int | None
    model: str
    body: dict[str, Any]
    usage: Usage
    status: int


@dataclass
class Recorder:
    """The calls seen so far and the ask each key is on."""

    calls: list[RecordedCall] = field(default_factory=list)
    current_ask: dict[str, int] = field(default_factory=dict)

    def of_key(self, api_key: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.api_key == api_key]


def usage_of(content_type: str, payload: bytes) -> Usage:
    """The usage a Messages response reported: its JSON `usage`, or its stream's events."""
    if "text/event-stream" not in content_type:
        reported = json.loads(payload).get("usage") or {}
        return _usage(reported)
    started: dict[str, Any] = {}
    output = 0
    for line in payload.decode("utf-8", "replace").splitlines():
        if not line.startswith("data:"):
            continue
        event = json.loads(line[5:])
        if event.get("type") == "message_start":
            started = event["message"].get("usage") or {}
        elif event.get("type") == "message_delta":
            delta = event.get("usage") or {}
            started = {**started, **{k: v for k, v in delta.items() if v is not None}}
            output = delta.get("output_tokens", output)
    return _usage({**started, "output_tokens": output})


def _usage(reported: dict[str, Any]) -> Usage:
    created = reported.get("cache_creation") or {}
    written = int(reported.get("cache_creation_input_tokens") or 0)
    written_1h = int(created.get("ephemeral_1h_input_tokens") or 0)
    return Usage(
        input_tokens=int(reported.get("input_tokens") or 0),
        cache_creation_5m_input_tokens=written - written_1h,
        cache_creation_1h_input_tokens=written_1h,
        cache_read_input_tokens=int(reported.get("cache_read_input_tokens") or 0),
        output_tokens=int(reported.get("output_tokens") or 0),
    )


def _api_key(request: Request) -> str:
    key = request.headers.get("x-api-key")
    if key:
        return key
    return request.headers.get("authorization", "").removeprefix("Bearer ").strip()


def create_proxy(upstream: str, recorder: Recorder) -> Starlette:
    """The proxy app, forwarding to upstream and recording into recorder."""
    client = httpx.AsyncClient(base_url=upstream, timeout=120)

    async def mark_ask(request: Request) -> Response:
        recorder.current_ask[_api_key(request)] = int((await request.json())["ask"])
        return JSONResponse({"ok": True})

    async def forward(request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        upstream_response = await client.request(
            request.method,
            request.url.path,
            params=request.query_params,
            content=body,
            headers=headers,
        )
        payload = upstream_response.content
        content_type = upstream_response.headers.get("content-type", "")
        if request.url.path == "/v1/messages" and request.method == "POST":
            key = _api_key(request)
            sent = json.loads(body)
            usage = usage_of(content_type, payload) if upstream_response.is_success else Usage()
            recorder.calls.append(
                RecordedCall(
                    key,
                    recorder.current_ask.get(key),
                    str(sent.get("model")),
                    sent,
                    usage,
                    upstream_response.status_code,
                )
            )
        kept = {
            k: v
            for k, v in upstream_response.headers.items()
            if k.lower() not in _HOP_HEADERS | {"content-encoding"}
        }
        return Response(payload, upstream_response.status_code, kept)

    return Starlette(
        routes=[
            Route("/_bench/ask", mark_ask, methods=["POST"]),
            Route("/{path:path}", forward, methods=["GET", "POST", "DELETE"]),
        ]
    )


@contextmanager
def recording_proxy(upstream: str) -> Iterator[tuple[str, Recorder]]:
    """A proxy to upstream served on a loopback port: its URL and what it records."""
    recorder = Recorder()
    with serve_in_thread(create_proxy(upstream, recorder)) as url:
        yield url, recorder


def request_text(body: dict[str, Any]) -> str:
    """Every piece of text a Messages request puts in front of the model."""
    parts: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            for item in value:
                collect(item)
        elif isinstance(value, dict):
            for key in ("text", "content", "title"):
                if key in value:
                    collect(value[key])

    collect(body.get("system"))
    for message in body.get("messages") or []:
        collect(message.get("content"))
    return "\n".join(parts)
