"""People found by the name part of their match key; data-quality items kept once by what was read.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:05:12.318204
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place with a default (no copy of the table), so the migration also renders as a SQL script
    # with no database to reflect; then filled from the match key, whose name part ends at the "|".
    op.add_column("people", sa.Column("name_key", sa.String(length=170), server_default="", nullable=False))
    if op.get_context().dialect.name == "sqlite":
        op.execute("UPDATE people SET name_key = substr(match_key, 1, instr(match_key, '|') - 1)")
    else:
        op.execute("UPDATE people SET name_key = substr(match_key, 1, strpos(match_key, '|') - 1)")
    op.create_index(op.f("ix_people_name_key"), "people", ["name_key"], unique=False)

    op.add_column("data_quality_items", sa.Column("fingerprint", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_data_quality_items_fingerprint",
        "data_quality_items",
        ["source_system", "system_id", "fingerprint"],
        unique=True,
    )


def downgrade() -> None:
    with op.batch_alter_table("data_quality_items", schema=None) as batch_op:
        batch_op.drop_index("ix_data_quality_items_fingerprint")
        batch_op.drop_column("fingerprint")

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_name_key"))
        batch_op.drop_column("name_key")
