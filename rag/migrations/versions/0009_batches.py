"""Keep batches and their questions in the shared database.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create batches and batch_questions."""
    op.create_table(
        "batches",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("upstream_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("ended_at", sa.String(40)),
        sa.Column("recorded", sa.Boolean(), nullable=False),
        sa.Column("recording_until_epoch_ms", sa.BigInteger()),
    )
    op.create_index("ix_batches_recorded", "batches", ["recorded"])
    op.create_table(
        "batch_questions",
        sa.Column("batch_id", sa.String(64), sa.ForeignKey("batches.id"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("custom_id", sa.String(64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("chunks", sa.Text(), nullable=False),
        sa.Column("layer_prefix_tokens", sa.Text(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer", sa.Text()),
        sa.Column("citations", sa.Text(), nullable=False),
        sa.Column("usage", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(128)),
        sa.Column("stop_reason", sa.String(32)),
        sa.Column("cache_miss_reason", sa.String(64)),
        sa.Column("cache_missed_input_tokens", sa.Integer()),
        sa.Column("error", sa.Text()),
    )


def downgrade() -> None:
    """Drop batch_questions and batches."""
    op.drop_table("batch_questions")
    op.drop_table("batches")
