"""What every route shares on the wire: the API key, the version header, the body, errors."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from api.emulator.errors import ApiError, error_body, invalid
from api.emulator.validation import check_version


def request_id(request: Request) -> str:
    """The id this request's `request-id` header and error bodies carry."""
    return str(request.scope["state"]["request_id"])


def api_key(request: Request) -> str:
    """The caller's key: `x-api-key` (what curl sends) wins over `Authorization: Bearer`."""
    key = request.headers.get("x-api-key")
    if key is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            key = token
    if key is None:
        raise ApiError(401, "x-api-key header is required")
    if not key.strip():
        raise ApiError(401, "invalid x-api-key")
    return key.strip()


def version(request: Request) -> str:
    """The anthropic-version the request speaks."""
    return check_version(request.headers.get("anthropic-version"))


async def json_body(request: Request, max_bytes: int) -> Any:
    """The parsed JSON body, refused with 413 past max_bytes before it is all read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "Request exceeds the maximum allowed number of bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, "Request exceeds the maximum allowed number of bytes.")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks) or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid(f"The request body is not valid JSON: {exc}") from exc


def error_response(request: Request, error: ApiError) -> JSONResponse:
    """The documented error body with the status and any extra headers."""
    headers = dict(error.headers)
    if 400 <= error.status < 500 and error.status != 429:
        # Observed on the real API's 400s; the SDK would not retry these anyway.
        headers["x-should-retry"] = "false"
    return JSONResponse(error_body(error, request_id(request)), error.status, headers)
