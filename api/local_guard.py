"""No-key mode's guard against web pages: only loopback names, no cross-site writes.

Without keys every caller is an admin, so the server relies on being reachable from this
machine only. A browser is on this machine too: a page on another site may send requests to
127.0.0.1 (a form post needs no preflight), or rebind its own name to 127.0.0.1 (DNS
rebinding) and read the answers. The first is refused by its Origin or Sec-Fetch-Site
header, the second by its Host header, which names the attacker's site.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from rag.settings import is_loopback

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _host_name(host_header: str) -> str:
    """The name in a Host header without its port; IPv6 literals lose their brackets."""
    parsed = urlsplit(f"//{host_header}")
    return (parsed.hostname or "").lower()


def _cross_site(headers: Headers) -> bool:
    if headers.get("sec-fetch-site", "").lower() == "cross-site":
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    # A page's origin must be this server as the browser names it; "null" never is.
    return urlsplit(origin).netloc.lower() != headers.get("host", "").lower()


class LocalGuard:
    """421 for a Host that is not loopback; 403 for a state-changing request from another site."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not is_loopback(_host_name(host)):
            response = error_response(
                Request(scope),
                421,
                "misdirected_request",
                "this server has no API keys and answers only to localhost or a loopback "
                "address in the Host header; set STRATA_API_KEYS to serve other names",
            )
            await response(scope, receive, send)
            return
        if scope["method"] not in _SAFE_METHODS and _cross_site(headers):
            response = error_response(
                Request(scope),
                403,
                "forbidden",
                "a request from another site may not change this server's state; "
                "without API keys only pages served by this server may",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
