"""GET /dashboard: the savings page; its script and styles are served from /static.

The page holds no figures itself: its script fetches them from /v1/usage/* with the viewer's
key, so the page is open and the data is not.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.deps import ServicesDep

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_URL = "/static"
# Jinja2Templates autoescapes .html templates: nothing rendered here can inject markup.
_templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")

router = APIRouter(tags=["usage"])


@router.get(
    "/dashboard", response_class=HTMLResponse, summary="The savings dashboard (asks for a key)"
)
def dashboard(request: Request, services: ServicesDep) -> HTMLResponse:
    settings = services.settings
    return _templates.TemplateResponse(
        request,
        "dashboard.html",
        {
            "static_url": STATIC_URL,
            "offline": settings.offline,
            "keys_required": bool(settings.api_keys),
        },
    )
