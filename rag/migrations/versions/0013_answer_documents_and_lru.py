"""Keep each cached answer's documents block, and when it was last used for LRU eviction.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add answers.chunks, answers.used_epoch_ms (indexed) and semantic_answers.chunks."""
    with op.batch_alter_table("answers") as table:
        table.add_column(sa.Column("chunks", sa.Text()))
        table.add_column(sa.Column("used_epoch_ms", sa.BigInteger()))
        table.create_index("ix_answers_used", ["used_epoch_ms"])
    with op.batch_alter_table("semantic_answers") as table:
        table.add_column(sa.Column("chunks", sa.Text()))


def downgrade() -> None:
    """Drop the columns and the index."""
    with op.batch_alter_table("semantic_answers") as table:
        table.drop_column("chunks")
    with op.batch_alter_table("answers") as table:
        table.drop_index("ix_answers_used")
        table.drop_column("used_epoch_ms")
        table.drop_column("chunks")
