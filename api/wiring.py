"""The one place Strata's long-lived objects are built and closed, for the app and the CLI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from rag.settings import Settings

log = logging.getLogger("strata")


@dataclass
class Services:
    """Everything a request or a command may use, built once per process."""

    settings: Settings

    def readiness(self) -> dict[str, bool]:
        """Which parts are ready to serve; /readyz answers 503 unless all are."""
        return {"settings": True}


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Build the services for settings, yield them, and close them in reverse order."""
    settings.home.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack():
        yield Services(settings=settings)
