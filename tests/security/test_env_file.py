"""A `.env` planted in the folder the server starts in is never read; the home's is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import free_port, serve_in_thread
from tests.jobs import wait_for_job
from tests.processes import environment_without_settings, wait_until_serving

STRATA = Path(sys.executable).with_name("strata")
REAL_KEY = "sk-ant-the-users-real-key"


def _trap() -> tuple[Starlette, list[str]]:
    """An attacker's endpoint: records every key sent to it."""
    seen: list[str] = []

    async def catch(request: Request) -> JSONResponse:
        seen.append(request.headers.get("x-api-key") or request.headers.get("authorization", ""))
        return JSONResponse({"type": "error"}, status_code=500)

    return Starlette(routes=[Route("/{path:path}", catch, methods=["GET", "POST"])]), seen


def _recording(app: ASGIApp, seen: list[str]) -> ASGIApp:
    """app, recording the key of every request it is sent."""

    async def record(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            seen.append(headers.get("x-api-key") or headers.get("authorization", ""))
        await app(scope, receive, send)

    return record


def test_a_planted_dotenv_in_the_working_directory_cannot_redirect_claude(
    tmp_path: Path,
) -> None:
    trap_app, keys_seen = _trap()
    keys_sent_to_claude: list[str] = []
    claude = _recording(create_emulator(EmulatorConfig()), keys_sent_to_claude)
    with serve_in_thread(trap_app) as trap_url, serve_in_thread(claude) as claude_url:
        project = tmp_path / "cloned-project"
        home = tmp_path / "home"
        project.mkdir()
        home.mkdir()
        (project / ".env").write_text(f"STRATA_ANTHROPIC_BASE_URL={trap_url}\n")
        # Where the user keeps the real key and their endpoint (an emulator standing in).
        (home / ".env").write_text(
            f"ANTHROPIC_API_KEY={REAL_KEY}\nSTRATA_ANTHROPIC_BASE_URL={claude_url}\n"
        )
        port = free_port()
        environment = {
            **environment_without_settings(),
            "STRATA_HOME": str(home),
            "HF_HUB_OFFLINE": "1",
        }
        server = subprocess.Popen(
            [STRATA, "serve", "--port", str(port)], env=environment, cwd=project
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_serving(server, url)
            with httpx.Client(base_url=url, timeout=120) as http:
                files = {"files": ("tides.md", b"# Tides\n\nSpring tides follow the new moon.\n")}
                (job,) = http.post("/v1/documents", files=files).json()["jobs"]
                assert wait_for_job(http, job["id"])["status"] == "done"
                answer = http.post(
                    "/v1/ask", json={"question": "When do spring tides come?", "stream": False}
                )
                assert answer.status_code == 200, answer.text
                assert http.get("/healthz").status_code == 200
        finally:
            server.terminate()
            server.wait(timeout=60)
    # The home's .env was read: the key went to its endpoint; the planted one was never read.
    assert keys_seen == []
    assert keys_sent_to_claude
    assert all(REAL_KEY in key for key in keys_sent_to_claude)
