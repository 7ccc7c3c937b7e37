"""Keep the answer cache in the shared database, with claims so a question is paid once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create answers."""
    op.create_table(
        "answers",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(128)),
        sa.Column("text", sa.Text()),
        sa.Column("sources", sa.Text()),
        sa.Column("citations", sa.Text()),
        sa.Column("usage", sa.Text()),
        sa.Column("claimed_until_epoch_ms", sa.BigInteger()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    """Drop answers."""
    op.drop_table("answers")
