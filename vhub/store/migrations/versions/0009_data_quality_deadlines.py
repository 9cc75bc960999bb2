"""Data-quality items carry the deadline of the action they hold up, so the queue orders them with the drafts.

Items raised before this migration keep no deadline (what they block was not recorded); each new item gets one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 03:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_quality_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deadline", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("blocks", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("data_quality_items", schema=None) as batch_op:
        batch_op.drop_column("blocks")
        batch_op.drop_column("deadline")
