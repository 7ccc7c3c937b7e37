"""The storage suite runs every test on both databases: SQLite and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag.storage import Database, database_url
from tests.postgres import postgres_server, postgres_url  # noqa: F401 (fixtures)


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: SQLite under tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return database_url(tmp_path, None)
    return database_url(tmp_path, request.getfixturevalue("postgres_url"))


@pytest.fixture
def open_replica(storage_url: str) -> Iterator[Callable[[], Database]]:
    """Opens the database as one more replica would: its own engine on the same URL."""
    opened: list[Database] = []

    def replica() -> Database:
        opened.append(Database.open(storage_url))
        return opened[-1]

    yield replica
    for database in opened:
        database.close()
