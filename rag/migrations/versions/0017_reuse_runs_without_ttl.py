"""Drop cache_reuse_runs.ttl: a kind's runs have one TTL, and rows of the unused 1-hour one go.

The planner keeps 5-minute runs under a layer's kind and 1-hour runs under the kind with
":returns" after it, so the TTL column repeated the kind. Rows of a 1-hour TTL under any other
kind were never read or pruned: they are deleted.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None

_RETURNS = "%:returns"


def upgrade() -> None:
    """Delete the stray 1-hour runs, then drop the ttl column and its place in the indexes."""
    op.execute(
        sa.text(
            "DELETE FROM cache_reuse_runs WHERE ttl <> '5m' AND kind NOT LIKE :returns"
        ).bindparams(returns=_RETURNS)
    )
    op.drop_index("ix_cache_reuse_runs_recent", "cache_reuse_runs")
    op.drop_index("ix_cache_reuse_runs_key", "cache_reuse_runs")
    with op.batch_alter_table("cache_reuse_runs") as batch:
        batch.drop_column("ttl")
    op.create_index("ix_cache_reuse_runs_key", "cache_reuse_runs", ["kind", "key", "last_used_at"])
    op.create_index("ix_cache_reuse_runs_recent", "cache_reuse_runs", ["kind", "last_used_at"])


def downgrade() -> None:
    """Put the ttl column back, filled from the kind."""
    op.drop_index("ix_cache_reuse_runs_recent", "cache_reuse_runs")
    op.drop_index("ix_cache_reuse_runs_key", "cache_reuse_runs")
    with op.batch_alter_table("cache_reuse_runs") as batch:
        batch.add_column(sa.Column("ttl", sa.String(4), nullable=False, server_default="5m"))
    op.execute(
        sa.text("UPDATE cache_reuse_runs SET ttl = '1h' WHERE kind LIKE :returns").bindparams(
            returns=_RETURNS
        )
    )
    op.create_index(
        "ix_cache_reuse_runs_key", "cache_reuse_runs", ["kind", "ttl", "key", "last_used_at"]
    )
    op.create_index(
        "ix_cache_reuse_runs_recent", "cache_reuse_runs", ["kind", "ttl", "last_used_at"]
    )
