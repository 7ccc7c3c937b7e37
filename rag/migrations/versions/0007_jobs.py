"""Keep upload jobs and the uploaded bytes in the shared database, as a leased queue.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create jobs and job_uploads."""
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("declared_type", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("document_id", sa.String(64)),
        sa.Column("error", sa.Text()),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("lease_owner", sa.String(128)),
        sa.Column("lease_expires_epoch_ms", sa.BigInteger()),
        sa.Column("attempts", sa.Integer(), nullable=False),
    )
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"])
    op.create_table(
        "job_uploads",
        sa.Column("job_id", sa.String(64), sa.ForeignKey("jobs.job_id"), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    """Drop job_uploads and jobs."""
    op.drop_table("job_uploads")
    op.drop_table("jobs")
