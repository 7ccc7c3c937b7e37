"""Record the digests of each call's prompt prefixes and of the prefix its cache write ended at.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add cache_prefix_fingerprints and cache_write_fingerprint."""
    with op.batch_alter_table("ledger_calls") as table:
        table.add_column(sa.Column("cache_prefix_fingerprints", sa.Text()))
        table.add_column(sa.Column("cache_write_fingerprint", sa.String(16)))


def downgrade() -> None:
    """Drop cache_prefix_fingerprints and cache_write_fingerprint."""
    with op.batch_alter_table("ledger_calls") as table:
        table.drop_column("cache_write_fingerprint")
        table.drop_column("cache_prefix_fingerprints")
