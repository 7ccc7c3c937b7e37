"""The ledger's fixtures: a ledger on each database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.ledger import Ledger, database_url
from tests.ledger.usage_fixtures import (  # noqa: F401 (fixtures)
    api_keys,
    corpus_home,
    emulator_url,
    strata_settings,
    tap,
)
from tests.postgres import postgres_server, postgres_url  # noqa: F401 (fixtures)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty ledger database: SQLite under tmp_path, or PostgreSQL."""
    if request.param == "sqlite":
        return database_url(tmp_path, None)
    return database_url(tmp_path, request.getfixturevalue("postgres_url"))


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    opened = Ledger.open(ledger_url)
    yield opened
    opened.close()
