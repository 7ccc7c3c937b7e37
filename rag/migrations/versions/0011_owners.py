"""Record which API key (as a keyed hash) made each conversation, upload job and batch.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

_TABLES = ("conversations", "jobs", "batches")


def upgrade() -> None:
    """Add owner_key; older rows keep none, and only admins see them."""
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner_key", sa.String(64)))


def downgrade() -> None:
    """Drop owner_key."""
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("owner_key")
