"""A run's scan items indexed by status and last-modified time, so finishing one costs the same at any size.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_scan_items_run_status_modified", "scan_items", ["run_id", "status", "last_modified"], unique=False
    )
    # The new index starts with the same two columns, so it serves every query the old one did.
    op.drop_index("ix_scan_items_run_status", table_name="scan_items")


def downgrade() -> None:
    op.create_index("ix_scan_items_run_status", "scan_items", ["run_id", "status"], unique=False)
    op.drop_index("ix_scan_items_run_status_modified", table_name="scan_items")
