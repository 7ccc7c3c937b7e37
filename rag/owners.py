"""Who a request acts for: the API key (as a keyed hash) that owns what the request creates.

Conversations, batches and upload jobs carry their owner's key id. A key sees only its own;
an admin key, and the single local caller when no keys are configured, see every one.
Something another key owns is reported as missing, so ids cannot be probed.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Owner:
    """A key id (never the key itself) and whether it may see what other keys made."""

    key_id: str
    sees_all: bool = False

    def may_see(self, stored_owner: str | None) -> bool:
        """True when something stored under stored_owner is visible to this owner."""
        return self.sees_all or stored_owner == self.key_id


# The one caller of a server without keys (loopback only), and of the local CLI.
LOCAL_OWNER = Owner("local", sees_all=True)


# The key a request acts for, so every ledger row it causes (answers, routing, audits run in
# tasks it starts) names its key without the id being passed through every call.
_acting_key: ContextVar[str | None] = ContextVar("strata_acting_key", default=None)


def acting_key() -> str | None:
    """The key id the current request acts for; None outside a request (ingest, batches)."""
    return _acting_key.get()


def act_for(key_id: str) -> None:
    """Make key_id the acting key for the rest of this context (the request being served)."""
    _acting_key.set(key_id)
