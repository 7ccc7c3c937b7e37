"""Record which API key (as a keyed hash) made each ledger call, and keep per-key rate buckets.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ledger_calls.owner_key (older rows keep none) and create rate_buckets."""
    with op.batch_alter_table("ledger_calls") as batch:
        batch.add_column(sa.Column("owner_key", sa.String(64)))
    # A key's spend since midnight is read before each of its asks.
    op.create_index(
        "ix_ledger_calls_owner_started", "ledger_calls", ["owner_key", "started_epoch_ms"]
    )
    op.create_table(
        "rate_buckets",
        sa.Column("owner_key", sa.String(64), primary_key=True),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_epoch_ms", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    """Drop rate_buckets and ledger_calls.owner_key."""
    op.drop_table("rate_buckets")
    op.drop_index("ix_ledger_calls_owner_started", "ledger_calls")
    with op.batch_alter_table("ledger_calls") as batch:
        batch.drop_column("owner_key")
