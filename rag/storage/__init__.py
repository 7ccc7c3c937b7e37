"""Strata's state apart from vectors, in one database: SQLite by default, PostgreSQL scaled out.

The only package (with the ledger and the migrations) that imports sqlalchemy, alembic or
sqlite3; an import contract in pyproject.toml holds it. Each store is a module with one job:
conversations, answers, documents, jobs, batches.
"""

from rag.storage.database import Database, database_url

__all__ = ["Database", "database_url"]
