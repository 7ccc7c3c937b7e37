"""Alembic migrations of the usage ledger, applied by rag.ledger at startup."""
