"""Who a request acts for: the API key (as a keyed hash) that owns what the request creates.

Conversations, batches and upload jobs carry their owner's key id. A key sees only its own;
an admin key, and the single local caller when no keys are configured, see every one.
Something another key owns is reported as missing, so ids cannot be probed.
"""

from __future__ import annotations

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
