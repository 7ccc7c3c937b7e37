"""Keep the documents blocks the planner marked, so other questions can send them again.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create warm_blocks."""
    op.create_table(
        "warm_blocks",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("chunk_ids", sa.Text(), nullable=False),
        sa.Column("chunks", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
    )
    op.create_index("ix_warm_blocks_scope", "warm_blocks", ["scope"])


def downgrade() -> None:
    """Drop warm_blocks."""
    op.drop_index("ix_warm_blocks_scope", "warm_blocks")
    op.drop_table("warm_blocks")
