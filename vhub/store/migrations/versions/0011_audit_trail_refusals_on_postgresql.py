"""On PostgreSQL the audit trail also refuses TRUNCATE, and every refusal is an integrity error, as on SQLite.

A row trigger does not see TRUNCATE, which empties a table without deleting its rows one by one; SQLite has no
TRUNCATE. Nothing changes on SQLite.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 04:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_REFUSE = (
    "CREATE OR REPLACE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'{errcode}; END $$"
)


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(_REFUSE.format(errcode=" USING ERRCODE = 'restrict_violation'"))
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse()"
    )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
    op.execute(_REFUSE.format(errcode=""))
