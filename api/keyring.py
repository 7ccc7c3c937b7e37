"""The configured API keys, matched in constant time and known by keyed hashes.

A key's id is an HMAC-SHA256 of the key under a secret kept in the shared database, so every
replica gives a key the same id, and what is stored with a conversation, batch, job or ledger
row names the key without revealing it and cannot be checked against guessed keys without
the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from decimal import Decimal

from rag.settings import ApiKey, Role
from rag.storage.database import Database
from rag.storage.secrets import shared_secret

_SECRET_NAME = "api_key_ids"
_ID_HEX_CHARS = 24


@dataclass(frozen=True, slots=True)
class KnownKey:
    """A configured key's role, id and daily budget in USD (None: no budget)."""

    role: Role
    key_id: str
    daily_budget_usd: Decimal | None = None


class KeyRing:
    """Matches offered keys to configured ones and hashes values under the server's secret."""

    def __init__(self, keys: list[ApiKey], secret: bytes) -> None:
        self._secret = secret
        self._keys = [
            (
                key.secret.get_secret_value().encode(),
                KnownKey(key.role, self.key_id_of(key), key.daily_budget_usd),
            )
            for key in keys
        ]

    @classmethod
    def open(cls, database: Database, keys: list[ApiKey]) -> KeyRing:
        """The key ring with the secret all replicas share, created on first use."""
        return cls(keys, shared_secret(database, _SECRET_NAME))

    def digest(self, value: str) -> str:
        """A keyed hash of value: the same on every replica, meaningless without its secret."""
        mac = hmac.new(self._secret, value.encode(), hashlib.sha256)
        return mac.hexdigest()[:_ID_HEX_CHARS]

    def key_id_of(self, key: ApiKey) -> str:
        """The id stored for key: `k_` and its keyed hash."""
        return "k_" + self.digest(key.secret.get_secret_value())

    def known(self) -> list[KnownKey]:
        """Every configured key's role, id and budget, in the order they were configured."""
        return [known for _, known in self._keys]

    def match(self, offered: str) -> KnownKey | None:
        """The configured key equal to offered, compared in constant time against every key."""
        candidate = offered.encode()
        found: KnownKey | None = None
        for secret, known in self._keys:
            if hmac.compare_digest(candidate, secret):
                found = known
        return found
