"""The HTTP perimeter: request ids, body size limits, security headers, CORS, no tracebacks.

One pure ASGI middleware wraps the whole application (it also sees streamed responses, which
a BaseHTTPMiddleware would buffer), and CORS is added only when origins are configured.
"""

from __future__ import annotations

import logging
import uuid
from contextvars import ContextVar
from typing import Any

from fastapi import FastAPI, HTTPException
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.control_chars import printable
from api.errors import error_response
from api.limits import install_stream_limiter
from api.local_guard import LocalGuard
from rag.models import MODELS
from rag.settings import Settings

log = logging.getLogger("strata.http")

_request_id: ContextVar[str] = ContextVar("strata_request_id", default="-")

_UPLOAD_PATH = "/v1/documents"
# Room for the multipart boundaries and part headers around the files (as api/uploads.py allows).
_MULTIPART_ENVELOPE_BYTES = 64 * 1024
_DOCS_PATHS = ("/docs", "/redoc")

# The dashboard loads its script and styles from this origin only and may not be framed.
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# JSON and event streams are never documents to render or frame.
API_CSP = "default-src 'none'; frame-ancestors 'none'"

_COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def current_request_id() -> str:
    """The id of the request being handled in this context, or "-" outside a request."""
    return _request_id.get()


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every log record so a log line can be matched to a response."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


def configure_logging(level: str) -> None:
    """Log to stderr with the request id on every line, one line per message."""
    logging.basicConfig(level=level.upper())
    formatter = _PrintableFormatter("%(levelname)s %(name)s [%(request_id)s] %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
        handler.addFilter(RequestIdLogFilter())


class _BodyTooLarge(HTTPException):
    def __init__(self, limit_bytes: int) -> None:
        super().__init__(413, f"request body over the limit of {limit_bytes} bytes")


class PerimeterMiddleware:
    """Gives each request an id, caps its body, adds security headers, hides tracebacks."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def body_limit_bytes(self, scope: Scope) -> int:
        """The largest body this request may carry: uploads have their own, larger limit."""
        content_type = Headers(scope=scope).get("content-type", "")
        if (
            scope["method"] == "POST"
            and scope["path"].rstrip("/") == _UPLOAD_PATH
            and content_type.startswith("multipart/form-data")
        ):
            files = self.settings.max_files_per_upload
            return files * self.settings.max_upload_bytes + _MULTIPART_ENVELOPE_BYTES
        return self.settings.max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = _request_id.set(request_id)
        headers = _response_headers(scope["path"], request_id)
        limit_bytes = self.body_limit_bytes(scope)
        received_bytes = 0
        status = 0

        async def limited_receive() -> Message:
            nonlocal received_bytes
            message = await receive()
            if message["type"] == "http.request":
                received_bytes += len(message.get("body", b""))
                if received_bytes > limit_bytes:
                    raise _BodyTooLarge(limit_bytes)
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).update(headers)
                # Logged before the client can see the response, so a reader never races it.
                _log_access(scope, status)
            await send(message)

        try:
            declared = _content_length(scope)
            if declared is not None and declared > limit_bytes:
                await self._reject(scope, send_with_headers, _BodyTooLarge(limit_bytes))
            else:
                await self.app(scope, limited_receive, send_with_headers)
        except Exception:
            if status:
                raise
            log.exception("unexpected error in %s %s", scope["method"], scope["path"])
            await error_response(Request(scope), 500, "internal_error", "internal error")(
                scope, receive, send_with_headers
            )
        finally:
            if not status:
                _log_access(scope, "no response")
            _request_id.reset(token)

    async def _reject(self, scope: Scope, send: Send, exc: HTTPException) -> None:
        response = error_response(Request(scope), exc.status_code, "too_large", str(exc.detail))
        # The body is not read: close the connection rather than drain what the client sends.
        response.headers["connection"] = "close"

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing, send)


def _log_access(scope: Scope, outcome: int | str) -> None:
    log.info("%s %s -> %s", scope["method"], printable(scope["path"]), outcome)


class _PrintableFormatter(logging.Formatter):
    """Escapes control characters in every message; tracebacks keep their lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def _response_headers(path: str, request_id: str) -> dict[str, str]:
    headers = {**_COMMON_HEADERS, "x-request-id": request_id}
    if path == "/dashboard" or path.startswith("/dashboard/"):
        headers["content-security-policy"] = DASHBOARD_CSP
    elif not path.startswith(_DOCS_PATHS):
        headers["content-security-policy"] = API_CSP
    return headers


# Request fields (SPEC section 9 names) whose bound is a setting: (JSON Schema keyword, setting).
_LIMITED_FIELDS = {
    "question": ("maxLength", "max_question_chars"),
    "query": ("maxLength", "max_question_chars"),
    "top_k": ("maximum", "max_top_k"),
    "max_tokens": ("maximum", "max_answer_tokens_limit"),
    "max_iterations": ("maximum", "agent_max_iterations_limit"),
}


def document_limits(app: FastAPI, settings: Settings) -> None:
    """Publish the configured limits and the model table in the OpenAPI document."""
    build = app.openapi
    annotated: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        schema = build()
        if not annotated or annotated[0] is not schema:
            for name, model in schema.get("components", {}).get("schemas", {}).items():
                if name.endswith("Request"):
                    _bound_fields(model, settings)
            for path_item in schema.get("paths", {}).values():
                for operation in path_item.values():
                    _bound_uploads(operation, settings)
            annotated[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _bound_fields(model: dict[str, Any], settings: Settings) -> None:
    model_field = model.get("properties", {}).get("model", {})
    for branch in model_field.get("anyOf", [model_field]):
        if branch.get("type") == "string":
            branch["enum"] = sorted(MODELS)
    for field, field_schema in model.get("properties", {}).items():
        if field not in _LIMITED_FIELDS:
            continue
        keyword, setting = _LIMITED_FIELDS[field]
        # A nullable field is an anyOf; the bound belongs on the non-null branch.
        for branch in field_schema.get("anyOf", [field_schema]):
            if branch.get("type") in ("string", "integer"):
                branch[keyword] = min(branch.get(keyword, 1 << 62), getattr(settings, setting))


def _bound_uploads(operation: dict[str, Any], settings: Settings) -> None:
    content = operation.get("requestBody", {}).get("content", {})
    form = content.get("multipart/form-data", {}).get("schema", {})
    for field_schema in form.get("properties", {}).values():
        if field_schema.get("type") == "array":
            field_schema.setdefault("minItems", 1)
            field_schema["maxItems"] = settings.max_files_per_upload
            field_schema["items"]["maxLength"] = settings.max_upload_bytes


def install_security(app: FastAPI, settings: Settings) -> None:
    """Add the perimeter, CORS when origins are configured, no-key mode's guard, and limits."""
    install_stream_limiter(app, settings)
    document_limits(app, settings)
    if not settings.api_keys:
        app.add_middleware(LocalGuard)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["authorization", "content-type"],
            expose_headers=["x-request-id", "retry-after"],
        )
    # Added last, so it is the outermost: CORS answers and errors get ids and headers too.
    app.add_middleware(PerimeterMiddleware, settings=settings)
