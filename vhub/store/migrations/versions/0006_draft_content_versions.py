"""Drafts carry the content version people approve; each decision names the content version it was made on.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place with a default, so the migration also renders as a SQL script with no database to reflect.
    op.add_column("drafts", sa.Column("content_version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("decisions", sa.Column("content_version", sa.Integer(), nullable=True))
    op.execute("UPDATE decisions SET content_version = 1")
    # A first approval given before versions were kept may predate an edit: it no longer counts, and the
    # draft waits for two approvals of what it now says.
    op.execute(
        "UPDATE drafts SET content_version = 2, first_approver = NULL "
        "WHERE status = 'awaiting_review' AND first_approver IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("content_version")
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_column("content_version")
