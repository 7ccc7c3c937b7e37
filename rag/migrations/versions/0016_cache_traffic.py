"""Keep the cache planner's marks and reuse runs in the shared database, for every replica.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create cache_marks and cache_reuse_runs."""
    op.create_table(
        "cache_marks",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("ttl", sa.String(4), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_cache_marks_expires", "cache_marks", ["expires_at"])
    op.create_table(
        "cache_reuse_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("ttl", sa.String(4), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("last_used_at", sa.Float(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_cache_reuse_runs_key", "cache_reuse_runs", ["kind", "ttl", "key", "last_used_at"]
    )
    op.create_index(
        "ix_cache_reuse_runs_recent", "cache_reuse_runs", ["kind", "ttl", "last_used_at"]
    )


def downgrade() -> None:
    """Drop cache_reuse_runs and cache_marks."""
    op.drop_index("ix_cache_reuse_runs_recent", "cache_reuse_runs")
    op.drop_index("ix_cache_reuse_runs_key", "cache_reuse_runs")
    op.drop_table("cache_reuse_runs")
    op.drop_index("ix_cache_marks_expires", "cache_marks")
    op.drop_table("cache_marks")
