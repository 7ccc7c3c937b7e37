"""The Strata FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.errors import document_error_responses, install_error_handlers
from api.routes import ask, batches, dashboard, documents, health, metrics, search, usage
from api.routes.docs import install_docs
from api.security import install_security
from api.wiring import Services, open_services
from rag.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the app for settings; services open in the lifespan and close after it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Services]]:
        async with open_services(settings) as services:
            yield {"services": services}

    # The documentation routes are Strata's own (api/routes/docs.py): they check the key.
    app = FastAPI(
        title="Strata",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_security(app, settings)

    for module in (health, ask, search, documents, batches, usage, dashboard, metrics):
        app.include_router(module.router)
    app.mount(dashboard.STATIC_URL, StaticFiles(directory=dashboard.STATIC_DIR), name="static")
    install_docs(app)
    document_error_responses(app)
    return app
