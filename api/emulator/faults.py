"""Fault injection: the failures the real API produces, on demand or at a seeded random rate.

The `x-emulator-fault` header picks one for a request; `fault_rate` draws them at random for
POST /v1/messages. `rate_limit` is a 429 with `retry-after`, `overloaded` a 529,
`server_error` a 500, `disconnect` drops the connection before any byte. The stream faults:
`midstream_error` sends an `error` event after the first delta, `error_before_text` an
`overloaded_error` event right after message_start, and `cut_midstream` drops the connection
halfway through the text, before message_delta (a non-streaming request has no stream to
break and gets a 500 instead).
"""

from __future__ import annotations

import random
import threading

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.emulator.errors import ApiError, error_body

FAULT_HEADER = b"x-emulator-fault"
STREAM_FAULTS = ("midstream_error", "error_before_text", "cut_midstream")
FAULTS = ("rate_limit", "overloaded", "server_error", "disconnect", *STREAM_FAULTS)
RETRY_AFTER_SECONDS = 1

_ERRORS = {
    "rate_limit": (
        429,
        "This request would exceed the rate limit for your organization. Please try again later.",
    ),
    "overloaded": (529, "Overloaded"),
    "server_error": (500, "Internal server error"),
    "midstream_error": (500, "Internal server error"),
}


def fault_error(fault: str) -> ApiError:
    """The error a fault answers with before any byte of the response."""
    status, message = _ERRORS[fault]
    headers = {}
    if status == 429:
        headers = {
            "retry-after": str(RETRY_AFTER_SECONDS),
            "anthropic-ratelimit-requests-remaining": "0",
        }
    return ApiError(status, message, headers)


async def _drop_connection(scope: Scope, receive: Receive) -> None:
    # ASGI has no message that aborts a connection, so the socket's transport is closed (the
    # outermost middleware records it); waiting for http.disconnect lets the server see it.
    transport = scope["state"].get("transport")
    if transport is None:
        raise RuntimeError("this ASGI server does not let the emulator drop connections")
    transport.close()
    while (await receive())["type"] != "http.disconnect":
        continue


class FaultInjector:
    """ASGI middleware that fails requests as the header or the seeded draw says."""

    def __init__(self, app: ASGIApp, fault_rate: float, seed: int) -> None:
        self._app = app
        self._fault_rate = fault_rate
        self._random = random.Random(f"faults:{seed}")
        self._lock = threading.Lock()

    def _draw(self, scope: Scope) -> str | None:
        if scope["method"] != "POST" or scope["path"] != "/v1/messages" or not self._fault_rate:
            return None
        with self._lock:
            if self._random.random() >= self._fault_rate:
                return None
            return self._random.choice(FAULTS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        asked = dict(scope["headers"]).get(FAULT_HEADER)
        fault = asked.decode() if asked is not None else self._draw(scope)
        if fault is None:
            await self._app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if fault not in FAULTS:
            error = ApiError(400, f"x-emulator-fault: unknown fault '{fault}', use one of {FAULTS}")
            await _send_error(error, scope, receive, send)
        elif fault == "disconnect":
            await _drop_connection(scope, receive)
        elif fault in STREAM_FAULTS:
            state["fault"] = fault
            await self._app(scope, receive, send)
        else:
            await _send_error(fault_error(fault), scope, receive, send)


async def _send_error(error: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
    body = error_body(error, scope["state"]["request_id"])
    await JSONResponse(body, error.status, error.headers)(scope, receive, send)
