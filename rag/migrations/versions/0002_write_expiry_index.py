"""Index the live cache writes per model, so crediting a read back stays cheap.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ix_ledger_calls_model_write_expiry."""
    op.create_index(
        "ix_ledger_calls_model_write_expiry",
        "ledger_calls",
        ["model", "cache_write_expires_epoch_ms"],
    )


def downgrade() -> None:
    """Drop ix_ledger_calls_model_write_expiry."""
    op.drop_index("ix_ledger_calls_model_write_expiry", "ledger_calls")
