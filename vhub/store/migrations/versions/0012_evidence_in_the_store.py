"""Evidence files in the store, for workers on several hosts: a screenshot a worker on one host kept is served by
the review app on another (``VHUB_EVIDENCE_STORE=database``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 06:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=60), nullable=False),
        sa.Column("folder", sa.String(length=120), nullable=False),
        sa.Column("job_id", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_files")),
        sa.UniqueConstraint("system", "folder", "name", name=op.f("uq_evidence_files_system")),
    )
    op.create_index(op.f("ix_evidence_files_job_id"), "evidence_files", ["job_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_evidence_files_job_id"), table_name="evidence_files")
    op.drop_table("evidence_files")
