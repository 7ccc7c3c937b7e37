"""The perimeter over real HTTP: body limits, headers, request ids, CORS, no tracebacks."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from api.app import create_app
from api.errors import install_error_handlers
from api.security import RequestIdLogFilter, install_security
from api.serving import serve_in_thread
from tests.security.conftest import assert_error_shape, keyed_settings_in


def test_every_response_carries_an_id_and_the_security_headers(anonymous: httpx.Client) -> None:
    first, second = anonymous.get("/healthz"), anonymous.get("/v1/nothing-here")
    for response in (first, second):
        assert response.headers["x-request-id"].startswith("req_")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_the_dashboard_policy_forbids_inline_script_and_framing(anonymous: httpx.Client) -> None:
    policy = anonymous.get("/dashboard").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy


def test_unknown_routes_and_methods_get_the_common_shape(anonymous: httpx.Client) -> None:
    assert_error_shape(anonymous.get("/v1/nothing-here"), 404, "not_found")
    assert_error_shape(anonymous.delete("/healthz"), 405, "method_not_allowed")


def test_a_declared_oversized_body_is_refused_before_it_is_read(admin: httpx.Client) -> None:
    response = admin.post(
        "/v1/search",
        content=b"{" + b" " * (64 * 1024) + b"}",
        headers={"content-type": "application/json"},
    )
    assert_error_shape(response, 413, "too_large")
    assert str(64 * 1024) in response.json()["error"]["message"]


def test_an_oversized_upload_is_refused_before_it_is_read(admin: httpx.Client) -> None:
    # Two files of the 256 KiB limit fit with room for multipart framing; three do not.
    files = [("files", (f"f{i}.txt", b"x" * (256 * 1024), "text/plain")) for i in range(3)]
    assert_error_shape(admin.post("/v1/documents", files=files), 413, "too_large")


class Note(BaseModel):
    text: str


def _bare_app() -> FastAPI:
    """A bare app behind the real perimeter: one route echoes a body, one fails unexpectedly."""
    app = FastAPI()
    install_error_handlers(app)
    install_security(app, keyed_settings_in(Path("/nonexistent/strata-bare")))

    @app.post("/echo")
    async def echo(note: Note) -> Note:
        return note

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail at /srv/strata/internal.py")

    return app


@pytest.fixture(scope="module")
def bare_url() -> Iterator[str]:
    with serve_in_thread(_bare_app()) as url:
        yield url


def test_the_body_limit_counts_bytes_without_a_content_length(bare_url: str) -> None:
    def chunks(count: int) -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(count):
            yield b"a" * 4096
        yield b'"}'

    # A generator body goes out chunked: there is no content-length to trust.
    json_type = {"content-type": "application/json"}
    small = httpx.post(f"{bare_url}/echo", content=chunks(2), headers=json_type)
    assert small.status_code == 200
    large = httpx.post(f"{bare_url}/echo", content=chunks(20), headers=json_type)
    assert "content-length" not in large.request.headers
    assert_error_shape(large, 413, "too_large")


def test_an_unexpected_error_is_a_500_with_no_detail_but_logged_under_its_id(
    bare_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestIdLogFilter())
    with caplog.at_level(logging.INFO, logger="strata"):
        response = httpx.get(f"{bare_url}/boom")
    assert_error_shape(response, 500, "internal_error")
    assert "secret" not in response.text
    assert response.json()["error"]["message"] == "internal error"
    request_id = response.headers["x-request-id"]
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert any(r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in logged)
    assert any(r.name == "strata.http" and "/boom -> 500" in r.getMessage() for r in logged)


def test_cors_is_off_by_default(anonymous: httpx.Client) -> None:
    origin = {"origin": "https://elsewhere.example"}
    preflight = anonymous.options(
        "/v1/search", headers={**origin, "access-control-request-method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in anonymous.get("/healthz", headers=origin).headers


def test_cors_admits_only_the_configured_origins(tmp_path: Path) -> None:
    settings = keyed_settings_in(tmp_path / "home", cors_origins="https://app.example")
    with serve_in_thread(create_app(settings)) as url, httpx.Client(base_url=url) as http:
        allowed = http.options(
            "/v1/search",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        refused = http.options(
            "/v1/search",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        simple = http.get("/healthz", headers={"origin": "https://app.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in refused.headers
    assert simple.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-request-id" in simple.headers["access-control-expose-headers"]
    assert "access-control-allow-credentials" not in simple.headers


def test_the_dashboard_page_runs_under_its_policy(anonymous: httpx.Client) -> None:
    page = anonymous.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page.text, flags=re.S)
    assert scripts, "the dashboard loads its script"
    for attributes, body in scripts:
        assert body.strip() == "", "inline script would be blocked by script-src 'self'"
        (source,) = re.findall(r'src="([^"]+)"', attributes)
        assert source.startswith("/"), "scripts come from this origin"
        assert anonymous.get(source).status_code == 200
    assert not re.search(r"\son[a-z]+\s*=", page.text), "inline event handlers are blocked"
    assert "javascript:" not in page.text
    assert "<style" not in page.text
    assert " style=" not in page.text


def test_a_newline_in_the_url_cannot_forge_a_log_line(
    bare_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "INFO strata.http [req_forged] GET /admin -> 200"
    with caplog.at_level(logging.INFO, logger="strata"):
        response = httpx.get(f"{bare_url}/v1/x%0a{forged.replace(' ', '%20')}%0d%1b[2J")
    assert response.status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "strata.http"]
    (line,) = [m for m in lines if "req_forged" in m]
    assert not any(control in line for control in "\n\r\x1b")
    assert "/v1/x\\n" in line
