"""The ledger's migration scripts, oldest first; alembic skips this file."""
