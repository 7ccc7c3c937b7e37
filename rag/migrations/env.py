"""Alembic environment: runs on the connection rag.ledger hands over, never from an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

VERSION_TABLE = "strata_ledger_version"

connection: Connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    # SQLite alters tables by copying them; alembic's batch mode does that.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
