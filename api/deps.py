"""FastAPI dependencies: the shared services and the caller's identity and role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.wiring import Services
from rag.owners import LOCAL_OWNER, Owner
from rag.settings import Role

# Roles nest: an admin may do what a user may, a user what a viewer may.
_RANK: dict[Role, int] = {"viewer": 0, "user": 1, "admin": 2}

_bearer = HTTPBearer(auto_error=False, description="An API key from STRATA_API_KEYS.")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the role of their key and its id (a keyed hash, never the key)."""

    role: Role
    key_id: str

    @property
    def owner(self) -> Owner:
        """What the caller creates belongs to their key; an admin sees what any key made."""
        return Owner(self.key_id, sees_all=self.role == "admin")


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
    if not services.settings.api_keys:
        return Caller(role="admin", key_id=LOCAL_OWNER.key_id)
    if credentials is None:
        raise HTTPException(
            401, "missing API key: send Authorization: Bearer KEY", {"www-authenticate": "Bearer"}
        )
    found = services.keys.match(credentials.credentials)
    if found is None:
        raise HTTPException(401, "invalid API key", {"www-authenticate": "Bearer"})
    return Caller(role=found.role, key_id=found.key_id)


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
