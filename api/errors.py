"""One table from core errors to HTTP statuses, and one JSON error shape for every error."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rag import errors

log = logging.getLogger("strata.api")

# Resolved by the exception's MRO, most specific class first.
STATUS_BY_ERROR: dict[type[errors.StrataError], tuple[int, str]] = {
    errors.DocumentTooLarge: (413, "too_large"),
    errors.UnsupportedDocument: (415, "unsupported_document"),
    errors.FeatureUnsupported: (400, "feature_unsupported"),
    errors.OverLimit: (422, "over_limit"),
    errors.InvalidInput: (400, "invalid_input"),
    errors.NotFound: (404, "not_found"),
    errors.LimitExceeded: (429, "limit_exceeded"),
    errors.NotReady: (503, "not_ready"),
    errors.UpstreamUnavailable: (503, "upstream_unavailable"),
    errors.UpstreamRejected: (502, "upstream_rejected"),
    errors.UpstreamError: (502, "upstream_error"),
    errors.StrataError: (500, "internal_error"),
}

_TYPE_BY_STATUS = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "limit_exceeded",
}


def status_of(exc: errors.StrataError) -> tuple[int, str]:
    """The HTTP status and error type for a core error."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500, "internal_error"


def request_id_of(request: Request) -> str:
    """The id the middleware gave this request."""
    return str(getattr(request.state, "request_id", ""))


def error_response(
    request: Request, status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The common error body with its status."""
    body = {"error": {"type": kind, "message": message, "request_id": request_id_of(request)}}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as {"error": {"type", "message", "request_id"}}, never a traceback."""

    @app.exception_handler(errors.StrataError)
    async def _strata(request: Request, exc: errors.StrataError) -> JSONResponse:
        status, kind = status_of(exc)
        headers = None
        if isinstance(exc, errors.LimitExceeded):
            headers = {"retry-after": str(exc.retry_after_seconds)}
        if status >= 500:
            log.error("request %s failed: %s", request_id_of(request), exc)
        return error_response(request, status, kind, str(exc), headers)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        kind = _TYPE_BY_STATUS.get(exc.status_code, "http_error")
        return error_response(
            request, exc.status_code, kind, str(exc.detail), dict(exc.headers or {})
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return error_response(request, 422, "invalid_input", problems or "invalid request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request %s failed unexpectedly", request_id_of(request))
        return error_response(request, 500, "internal_error", "internal error")
