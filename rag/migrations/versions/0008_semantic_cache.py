"""Keep answers for the semantic cache, and record its hits and audits in the ledger.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create semantic_answers; add the semantic columns to ledger_calls."""
    op.create_table(
        "semantic_answers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("corpus_version", sa.String(128), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("chunk_ids", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sources", sa.Text(), nullable=False),
        sa.Column("citations", sa.Text(), nullable=False),
        sa.Column("usage", sa.Text(), nullable=False),
        sa.Column("created_epoch_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_semantic_answers_scope", "semantic_answers", ["scope"])
    with op.batch_alter_table("ledger_calls") as table:
        table.add_column(sa.Column("semantic_similarity", sa.Float()))
        table.add_column(sa.Column("semantic_question", sa.String(512)))
        table.add_column(sa.Column("semantic_audit_agreed", sa.Boolean()))


def downgrade() -> None:
    """Drop the semantic columns and semantic_answers."""
    with op.batch_alter_table("ledger_calls") as table:
        table.drop_column("semantic_audit_agreed")
        table.drop_column("semantic_question")
        table.drop_column("semantic_similarity")
    op.drop_index("ix_semantic_answers_scope", "semantic_answers")
    op.drop_table("semantic_answers")
