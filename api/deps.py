"""FastAPI dependencies: the shared services and the caller's identity and role."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.wiring import Services
from rag.settings import Role

# Roles nest: an admin may do what a user may, a user what a viewer may.
_RANK: dict[Role, int] = {"viewer": 0, "user": 1, "admin": 2}

_bearer = HTTPBearer(auto_error=False, description="An API key from STRATA_API_KEYS.")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the role of their key, and a non-secret label for per-key limits."""

    role: Role
    key_label: str


def get_services(request: Request) -> Services:
    """The services the lifespan built for this process."""
    services: Services = request.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_caller(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller behind the bearer key; with no keys configured (loopback only), an admin."""
    keys = services.settings.api_keys
    if not keys:
        return Caller(role="admin", key_label="local")
    if credentials is None:
        raise HTTPException(
            401, "missing API key: send Authorization: Bearer KEY", {"www-authenticate": "Bearer"}
        )
    offered = credentials.credentials.encode()
    found: Caller | None = None
    # Compare against every key, in constant time each, so timing says nothing about which matched.
    for index, key in enumerate(keys):
        if hmac.compare_digest(offered, key.secret.get_secret_value().encode()):
            found = Caller(role=key.role, key_label=f"key{index}")
    if found is None:
        raise HTTPException(401, "invalid API key", {"www-authenticate": "Bearer"})
    return found


CallerDep = Annotated[Caller, Depends(get_caller)]


class RoleCheck:
    """A dependency that admits callers whose role is at least role; routes can be audited by it."""

    def __init__(self, role: Role) -> None:
        self.role: Role = role

    def __call__(self, caller: CallerDep) -> Caller:
        if not at_least(caller.role, self.role):
            raise HTTPException(403, f"this needs the {self.role} role; your key has {caller.role}")
        return caller


def at_least(caller_role: Role, required: Role) -> bool:
    """True when a key with caller_role may do what required asks for."""
    return _RANK[caller_role] >= _RANK[required]


AdminCaller = Annotated[Caller, Depends(RoleCheck("admin"))]
UserCaller = Annotated[Caller, Depends(RoleCheck("user"))]
ViewerCaller = Annotated[Caller, Depends(RoleCheck("viewer"))]
