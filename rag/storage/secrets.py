"""Secrets shared by every replica, kept in the shared database."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from rag.storage.database import Database, insert_if_absent
from rag.storage.tables import server_secrets

_SECRET_BYTES = 32


def shared_secret(database: Database, name: str) -> bytes:
    """The secret called name: random bytes made by the first process to ask, then read by all."""
    with database.writing() as connection:
        insert_if_absent(
            connection, server_secrets, {"name": name, "value": secrets.token_bytes(_SECRET_BYTES)}
        )
        value = connection.execute(
            select(server_secrets.c.value).where(server_secrets.c.name == name)
        ).scalar_one()
    return bytes(value)
