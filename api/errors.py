"""One table from core errors to HTTP statuses, and one JSON error shape for every error."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from api.deps import RoleCheck, get_caller
from api.limits import hold_stream_slot, within_budget
from rag import errors
from rag.settings import Role

log = logging.getLogger("strata.api")

# Resolved by the exception's MRO, most specific class first.
STATUS_BY_ERROR: dict[type[errors.StrataError], tuple[int, str]] = {
    errors.DocumentTooLarge: (413, "too_large"),
    errors.UnsupportedDocument: (415, "unsupported_document"),
    errors.EmptyDocument: (422, "empty_document"),
    errors.FeatureUnsupported: (400, "feature_unsupported"),
    errors.OverLimit: (422, "over_limit"),
    errors.InvalidInput: (400, "invalid_input"),
    errors.NotFound: (404, "not_found"),
    errors.StillProcessing: (409, "still_processing"),
    errors.BudgetExceeded: (429, "budget_exceeded"),
    errors.LimitExceeded: (429, "limit_exceeded"),
    errors.NotReady: (503, "not_ready"),
    errors.LedgerUnavailable: (503, "ledger_unavailable"),
    errors.UpstreamRateLimited: (429, "upstream_rate_limited"),
    errors.UpstreamUnavailable: (503, "upstream_unavailable"),
    errors.UpstreamRejected: (502, "upstream_rejected"),
    errors.StructuredOutputInvalid: (502, "invalid_structured_output"),
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


class ErrorDetail(BaseModel):
    """What went wrong, in words a caller can act on."""

    type: str = Field(description="Stable machine-readable kind, e.g. not_found, too_large.")
    message: str = Field(description="Human-readable explanation; never a stack trace.")
    request_id: str = Field(description="Also in the x-request-id header and the server logs.")


class ErrorBody(BaseModel):
    """The one shape of every error response."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "The request is invalid",
    401: "Missing or unknown API key",
    403: "The key's role may not do this",
    404: "No such resource",
    413: "Request body or upload over its size limit",
    415: "Unsupported document type",
    422: "A field is missing, malformed or over its limit",
    429: "A per-key limit (requests per minute, answers in flight, batch questions in "
    "flight, daily budget) is reached, or Claude is rate-limited; see retry-after",
    500: "Internal error (details are in the server log under the request id)",
    502: "Claude rejected the request",
    503: "Claude or a part of the service is unavailable",
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
        if isinstance(exc, errors.LimitExceeded | errors.UpstreamRateLimited):
            headers = {"retry-after": str(exc.retry_after_seconds)}
        if status >= 500:
            log.error("request %s failed: %s", request_id_of(request), exc)
        return error_response(request, status, kind, str(exc), headers)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        kind = _TYPE_BY_STATUS.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # The router names only the first route that matched the path; list every method.
            headers["allow"] = ", ".join(sorted(_methods_at(app, request.url.path)))
        return error_response(request, exc.status_code, kind, str(exc.detail), headers)

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


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def api_routes(app: FastAPI) -> Iterator[RouteContext]:
    """Every API route of app as served (router prefixes applied), docs pages excluded."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def _methods_at(app: FastAPI, path: str) -> set[str]:
    methods: set[str] = set()
    for context in iter_route_contexts(app.routes):
        pattern = getattr(context, "path_regex", None)
        if pattern is not None and pattern.match(path):
            methods |= context.methods or set()
    return methods


def required_role(route: RouteContext) -> Role | None:
    """The least role a key needs to call route; None for routes open without a key."""
    roles = [call.role for call in _calls(route.dependant) if isinstance(call, RoleCheck)]
    if roles:
        return max(roles, key=("viewer", "user", "admin").index)
    return None


def error_statuses(route: RouteContext, operation: dict[str, Any]) -> set[int]:
    """The error statuses a route can answer with, from what it takes and depends on.

    A body counts whether FastAPI parses it or the route streams it itself and declares it in
    openapi_extra (as uploads do).
    """
    dependant = route.dependant
    calls = set(_calls(dependant))
    body_types = operation.get("requestBody", {}).get("content", {})
    multipart = "multipart/form-data" in body_types
    statuses = {500}
    if get_caller in calls:
        # 429: the key's requests per minute (STRATA_RATE_LIMIT_PER_MINUTE).
        statuses |= {401, 403, 429}
    if dependant.path_params or dependant.query_params or body_types:
        statuses |= {400, 422}
    if dependant.path_params or (body_types and not multipart):
        statuses.add(404)
    if body_types:
        statuses.add(413)
    if multipart:
        statuses.add(415)
    if hold_stream_slot in calls or within_budget in calls:
        statuses |= {429, 502, 503}
    return statuses


def document_error_responses(app: FastAPI) -> None:
    """Make the OpenAPI document list, for every route, its errors in the common shape."""
    build = app.openapi
    annotated: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        # FastAPI rebuilds its schema when routes change; annotate each new build once.
        schema = build()
        if not annotated or annotated[0] is not schema:
            _add_error_responses(schema, app)
            annotated[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_error_responses(schema: dict[str, Any], app: FastAPI) -> None:
    body_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(body_schema.pop("$defs", {}))
    components["ErrorBody"] = body_schema
    # Validation errors leave through our handler in the common shape, not FastAPI's default.
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = schema["paths"][route.path_format][method.lower()]
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            role = required_role(route)
            if role is not None:
                note = f"Needs an API key with the `{role}` role or a higher one."
                operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
            for status in sorted(error_statuses(route, operation)):
                entry = responses.setdefault(str(status), {"description": _DESCRIPTIONS[status]})
                entry["content"] = content
                if status == 429:
                    entry["headers"] = {
                        "retry-after": {
                            "description": "Seconds to wait before trying again.",
                            "schema": {"type": "integer"},
                        }
                    }
