"""The configured API keys, matched in constant time and known by keyed hashes.

A key's id is an HMAC-SHA256 of the key under a secret kept in STRATA_HOME, so what is stored
with a conversation, batch, job or ledger row names the key without revealing it, and cannot
be checked against guessed keys without the secret.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from rag.settings import ApiKey, Role

_SECRET_FILE = "keyring.secret"
_ID_HEX_CHARS = 24


@dataclass(frozen=True, slots=True)
class KnownKey:
    """A configured key's role and id."""

    role: Role
    key_id: str


class KeyRing:
    """Matches offered keys to configured ones and hashes values under the server's secret."""

    def __init__(self, keys: list[ApiKey], secret: bytes) -> None:
        self._secret = secret
        self._keys = [
            (key.secret.get_secret_value().encode(), KnownKey(key.role, self.key_id_of(key)))
            for key in keys
        ]

    @classmethod
    def open(cls, home: Path, keys: list[ApiKey]) -> KeyRing:
        """The key ring with the secret under home, created on first use."""
        return cls(keys, _load_or_create_secret(home / _SECRET_FILE))

    def digest(self, value: str) -> str:
        """A keyed hash of value: stable for this home, meaningless without its secret."""
        mac = hmac.new(self._secret, value.encode(), hashlib.sha256)
        return mac.hexdigest()[:_ID_HEX_CHARS]

    def key_id_of(self, key: ApiKey) -> str:
        """The id stored for key: `k_` and its keyed hash."""
        return "k_" + self.digest(key.secret.get_secret_value())

    def match(self, offered: str) -> KnownKey | None:
        """The configured key equal to offered, compared in constant time against every key."""
        candidate = offered.encode()
        found: KnownKey | None = None
        for secret, known in self._keys:
            if hmac.compare_digest(candidate, secret):
                found = known
        return found


def _load_or_create_secret(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(secrets.token_bytes(32))
        # A link is created whole or not at all: processes starting together keep the first.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_bytes()
