"""The Strata FastAPI application factory."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from api.errors import install_error_handlers
from api.routes import health
from api.wiring import Services, open_services
from rag.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the app for settings; services open in the lifespan and close after it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Services]]:
        async with open_services(settings) as services:
            yield {"services": services}

    app = FastAPI(title="Strata", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)

    @app.middleware("http")
    async def _request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.request_id = "req_" + uuid.uuid4().hex
        response = await call_next(request)
        response.headers["x-request-id"] = request.state.request_id
        return response

    for module in (health,):
        app.include_router(module.router)
    return app
