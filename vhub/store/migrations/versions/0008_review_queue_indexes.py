"""Indexes for the review app's queue and dashboard, so their pages cost the same with ten thousand drafts.

The queue filters, counts and orders on one covering index of the drafts, which also serves what the
status-and-deadline index did (it replaces it); the dashboard counts drafts created and decided per day, the
oldest still waiting and the open data-quality items by their own indexes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_drafts_queue",
        "drafts",
        ["status", "authority", "risk", "first_approver", "deadline", "workflow"],
        unique=False,
    )
    op.drop_index("ix_drafts_status_deadline", table_name="drafts")
    op.create_index("ix_drafts_status_created", "drafts", ["status", "created_at"], unique=False)
    op.create_index("ix_drafts_created_at", "drafts", ["created_at"], unique=False)
    op.create_index("ix_decisions_at", "decisions", ["at"], unique=False)
    op.create_index("ix_data_quality_items_status", "data_quality_items", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_data_quality_items_status", table_name="data_quality_items")
    op.drop_index("ix_decisions_at", table_name="decisions")
    op.drop_index("ix_drafts_created_at", table_name="drafts")
    op.drop_index("ix_drafts_status_created", table_name="drafts")
    op.create_index("ix_drafts_status_deadline", "drafts", ["status", "deadline"], unique=False)
    op.drop_index("ix_drafts_queue", table_name="drafts")
