"""Review app: users, web sessions, decisions, draft claims and second approvals.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 11:37:37.268938
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], name=op.f("fk_decisions_draft_id_drafts")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_decisions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decisions_draft_id"), ["draft_id"], unique=False)

    with op.batch_alter_table("data_quality_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolution", sa.JSON(), nullable=True))

    # SQLite adds a column with its foreign key in place (ALTER TABLE ... ADD COLUMN ... REFERENCES), so the
    # migration needs no copy of the table and also renders as a SQL script with no database to reflect.
    new_user_columns = {"claimed_by": "fk_drafts_claimed_by_users", "first_approver": "fk_drafts_first_approver_users"}
    sqlite = op.get_context().dialect.name == "sqlite"
    for column, constraint in new_user_columns.items():
        if sqlite:
            op.execute(f"ALTER TABLE drafts ADD COLUMN {column} INTEGER CONSTRAINT {constraint} REFERENCES users (id)")
        else:
            op.add_column("drafts", sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(constraint, "drafts", "users", [column], ["id"])
    op.add_column("drafts", sa.Column("claimed_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        # SQLite reports the two foreign keys added in place without their names; the copy of the table that
        # drops their columns leaves them out anyway.
        if op.get_context().dialect.name != "sqlite":
            batch_op.drop_constraint(batch_op.f("fk_drafts_first_approver_users"), type_="foreignkey")
            batch_op.drop_constraint(batch_op.f("fk_drafts_claimed_by_users"), type_="foreignkey")
        batch_op.drop_column("first_approver")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")

    with op.batch_alter_table("data_quality_items", schema=None) as batch_op:
        batch_op.drop_column("resolution")

    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decisions_draft_id"))

    op.drop_table("decisions")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))

    op.drop_table("web_sessions")
    op.drop_table("users")
