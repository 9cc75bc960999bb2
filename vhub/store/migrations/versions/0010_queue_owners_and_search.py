"""The review queue's owners, search and sorting: an owner for drafts and data-quality items, the search a
session keeps (it may be a name, so it is never put in an address), and the covering index extended by owner
and creation time so "my items" and the sort by creation still read only the index (data-quality items' with
their deadline too, which 0009 added).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 03:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

QUEUE_BEFORE = ["status", "authority", "risk", "first_approver", "deadline", "workflow"]


def upgrade() -> None:
    # In place, so the migration also renders as a SQL script with no database to reflect: SQLite adds a column
    # with its reference in one statement, which alembic does not write for it.
    for table in ("drafts", "data_quality_items"):
        if op.get_context().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE {table} ADD COLUMN owner_id INTEGER REFERENCES users (id)")
        else:
            op.add_column(table, sa.Column("owner_id", sa.Integer(), nullable=True))
            op.create_foreign_key(f"fk_{table}_owner_id_users", table, "users", ["owner_id"], ["id"])
    op.add_column("web_sessions", sa.Column("queue_search", sa.String(length=200), nullable=True))
    op.drop_index("ix_drafts_queue", table_name="drafts")
    op.create_index("ix_drafts_queue", "drafts", [*QUEUE_BEFORE, "owner_id", "created_at"], unique=False)
    op.create_index("ix_drafts_recipient_name", "drafts", ["recipient_name"], unique=False)
    op.create_index(
        "ix_data_quality_items_queue",
        "data_quality_items",
        ["status", "owner_id", "created_at", "deadline"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_data_quality_items_queue", table_name="data_quality_items")
    op.drop_index("ix_drafts_recipient_name", table_name="drafts")
    op.drop_index("ix_drafts_queue", table_name="drafts")
    op.create_index("ix_drafts_queue", "drafts", QUEUE_BEFORE, unique=False)
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_column("queue_search")
    for table in ("data_quality_items", "drafts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("owner_id")
