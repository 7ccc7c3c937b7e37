"""Create the ledger_calls table: one row per Claude call or answer-cache hit.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _id_type() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ledger_calls and its indexes."""
    op.create_table(
        "ledger_calls",
        sa.Column("id", _id_type(), primary_key=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("started_epoch_ms", sa.BigInteger(), nullable=False),
        sa.Column("feature", sa.String(32), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("conversation_id", sa.String(128)),
        sa.Column("batch", sa.Boolean(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_5m_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_1h_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("price_source", sa.String(16), nullable=False),
        sa.Column("cost_usd", sa.Float()),
        sa.Column("cost_without_cache_usd", sa.Float()),
        sa.Column("saved_usd", sa.Float()),
        sa.Column("saved_system_usd", sa.Float()),
        sa.Column("saved_documents_usd", sa.Float()),
        sa.Column("saved_conversation_usd", sa.Float()),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("time_to_first_token_ms", sa.Float()),
        sa.Column("request_id", sa.String(128)),
        sa.Column("http_request_id", sa.String(128)),
        sa.Column("layer_hit", sa.String(16), nullable=False),
        sa.Column("system_prefix_tokens", sa.BigInteger(), nullable=False),
        sa.Column("documents_prefix_tokens", sa.BigInteger(), nullable=False),
        sa.Column("conversation_prefix_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_miss_reason", sa.String(64)),
        sa.Column("cache_missed_tokens", sa.BigInteger()),
        sa.Column("cache_missed_cost_usd", sa.Float()),
        sa.Column("avoided_cost_usd", sa.Float()),
        sa.Column("cache_write_premium_usd", sa.Float()),
        sa.Column("cache_write_expires_epoch_ms", sa.BigInteger()),
        sa.Column("cache_write_read_back_tokens", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.String(512)),
    )
    op.create_index("ix_ledger_calls_started", "ledger_calls", ["started_epoch_ms"])
    op.create_index("ix_ledger_calls_model_started", "ledger_calls", ["model", "started_epoch_ms"])
    op.create_index("ix_ledger_calls_cost", "ledger_calls", ["cost_usd"])


def downgrade() -> None:
    """Drop ledger_calls."""
    op.drop_table("ledger_calls")
