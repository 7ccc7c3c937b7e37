"""FastAPI dependencies: the shared services and the caller's identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.wiring import Services


def get_services(request: Request) -> Services:
    """The services the lifespan built for this process."""
    services: Services = request.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
