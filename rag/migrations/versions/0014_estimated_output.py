"""Flag ledger rows whose output tokens are estimated (a stream cut before its final count).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ledger_calls.output_estimated, false for every row so far."""
    with op.batch_alter_table("ledger_calls") as table:
        table.add_column(
            sa.Column("output_estimated", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    """Drop ledger_calls.output_estimated."""
    with op.batch_alter_table("ledger_calls") as table:
        table.drop_column("output_estimated")
