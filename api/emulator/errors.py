"""The API's error: status, `error.type` and message, rendered as the documented error body."""

from __future__ import annotations

from typing import Any

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class ApiError(Exception):
    """A request the API refuses, with the status and `error.type` it answers with."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = ERROR_TYPES[status]
        self.message = message
        self.headers = headers or {}


def invalid(message: str) -> ApiError:
    """A 400 `invalid_request_error`."""
    return ApiError(400, message)


def error_object(error_type: str, message: str) -> dict[str, Any]:
    """The inner `error` object of an error body or an SSE `error` event."""
    return {"type": error_type, "message": message}


def error_body(error: ApiError, request_id: str | None) -> dict[str, Any]:
    """`{"type": "error", "error": {...}, "request_id": ...}` as the API sends it."""
    body: dict[str, Any] = {"type": "error", "error": error_object(error.error_type, error.message)}
    if request_id is not None:
        body["request_id"] = request_id
    return body
