"""FastAPI dependencies: the shared services and the caller's identity and role."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.wiring import Services
from rag.errors import LimitExceeded
from rag.owners import LOCAL_OWNER, Owner, act_for
from rag.settings import Role

# Roles nest: an admin may do what a user may, a user what a viewer may.
_RANK: dict[Role, int] = {"viewer": 0, "user": 1, "admin": 2}

_bearer = HTTPBearer(auto_error=False, description="An API key from STRATA_API_KEYS.")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: their key's role, id (a keyed hash, never the key) and daily budget."""

    role: Role
    key_id: str
    daily_budget_usd: Decimal | None = None

    @property
    def owner(self) -> Owner:
        """What the caller creates belongs to their key; an admin sees what any key made."""
        return Owner(self.key_id, sees_all=self.role == "admin")


def get_services(request: Request) -> Services:
    """The services the lifespan built for this process."""
    services: Services = request.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_caller(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller behind the bearer key; with no keys configured (loopback only), an admin.

    A key past its request rate is refused (429). The caller's key becomes the request's
    acting key, so the ledger rows of the calls it causes name it.
    """
    if not services.settings.api_keys:
        act_for(LOCAL_OWNER.key_id)
        return Caller(role="admin", key_id=LOCAL_OWNER.key_id)
    if credentials is None:
        raise HTTPException(
            401, "missing API key: send Authorization: Bearer KEY", {"www-authenticate": "Bearer"}
        )
    found = services.keys.match(credentials.credentials)
    if found is None:
        raise HTTPException(401, "invalid API key", {"www-authenticate": "Bearer"})
    if services.rate_buckets is not None:
        wait_seconds = await asyncio.to_thread(services.rate_buckets.take, found.key_id)
        if wait_seconds:
            raise LimitExceeded(
                f"this key made its {services.rate_buckets.per_minute} requests for the "
                f"minute; try again in {math.ceil(wait_seconds)} s",
                retry_after_seconds=math.ceil(wait_seconds),
            )
    act_for(found.key_id)
    return Caller(role=found.role, key_id=found.key_id, daily_budget_usd=found.daily_budget_usd)


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
