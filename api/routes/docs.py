"""The OpenAPI document, Swagger UI and ReDoc, behind a key when keys are configured.

The document lists every route and limit, which a caller without a key has no need to read.
A browser cannot send a bearer key when it opens /docs, so these three pages also take the
key as the password of HTTP Basic (any user name): the browser asks for it once and sends it
again when the page fetches the document. Basic credentials open these pages only; every
API route still needs `Authorization: Bearer`.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.errors import error_response
from api.wiring import Services

OPENAPI_URL = "/openapi.json"
_CHALLENGE = {"www-authenticate": 'Basic realm="Strata API documentation", charset="UTF-8"'}


def _offered_key(request: Request) -> str | None:
    """The key in a bearer token or in the password of Basic credentials, if either is sent."""
    scheme, value = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() == "bearer":
        return value
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


def _refusal(request: Request) -> Response | None:
    services: Services = request.state.services
    if not services.settings.api_keys:
        return None
    offered = _offered_key(request)
    if offered is None:
        message = "the API documentation needs an API key (as a bearer token or Basic password)"
    elif services.keys.match(offered) is None:
        message = "invalid API key"
    else:
        return None
    return error_response(request, 401, "unauthenticated", message, _CHALLENGE)


async def _openapi(request: Request) -> Response:
    app: FastAPI = request.app
    return _refusal(request) or JSONResponse(app.openapi())


async def _swagger_ui(request: Request) -> Response:
    page = get_swagger_ui_html(openapi_url=OPENAPI_URL, title="Strata API")
    return _refusal(request) or page


async def _redoc(request: Request) -> Response:
    return _refusal(request) or get_redoc_html(openapi_url=OPENAPI_URL, title="Strata API")


def install_docs(app: FastAPI) -> None:
    """Serve the document and its two viewers at FastAPI's usual paths, checking the key."""
    app.add_route(OPENAPI_URL, _openapi, ["GET"], include_in_schema=False)
    app.add_route("/docs", _swagger_ui, ["GET"], include_in_schema=False)
    app.add_route("/redoc", _redoc, ["GET"], include_in_schema=False)
