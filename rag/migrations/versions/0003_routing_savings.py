"""Record the model routing passed over and what the cheaper model saved.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add routed_from_model and routing_saved_usd."""
    with op.batch_alter_table("ledger_calls") as table:
        table.add_column(sa.Column("routed_from_model", sa.String(128)))
        table.add_column(sa.Column("routing_saved_usd", sa.Float()))


def downgrade() -> None:
    """Drop routed_from_model and routing_saved_usd."""
    with op.batch_alter_table("ledger_calls") as table:
        table.drop_column("routing_saved_usd")
        table.drop_column("routed_from_model")
