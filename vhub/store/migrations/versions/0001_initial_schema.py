"""Initial schema, with the audit table made append-only by triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 09:25:01.331796
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=80), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=True),
        sa.Column("job_id", sa.String(length=120), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_entity_id"), ["entity_id"], unique=False)

    op.create_table(
        "data_quality_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_system", sa.String(length=40), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=True),
        sa.Column("version", sa.DateTime(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_quality_items")),
        sa.UniqueConstraint("source_system", "system_id", "version", name=op.f("uq_data_quality_items_source_system")),
    )
    with op.batch_alter_table("data_quality_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_quality_items_reference"), ["reference"], unique=False)

    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_system", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("last_modified", sa.DateTime(), nullable=False),
        sa.Column("is_latest", sa.Boolean(), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.Column("incident_type", sa.String(length=80), nullable=False),
        sa.Column("domestic_abuse", sa.Boolean(), nullable=False),
        sa.Column("crime_classification", sa.String(length=120), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("location_line1", sa.String(length=200), nullable=False),
        sa.Column("location_town", sa.String(length=80), nullable=False),
        sa.Column("location_postcode", sa.String(length=10), nullable=False),
        sa.Column("officer", sa.String(length=80), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("reference", "last_modified", name=op.f("uq_incidents_reference")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_reference"), ["reference"], unique=False)

    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nominal_ref", sa.String(length=10), nullable=False),
        sa.Column("forename", sa.String(length=80), nullable=False),
        sa.Column("surname", sa.String(length=80), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("match_key", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("nominal_ref", name=op.f("uq_people_nominal_ref")),
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_people_match_key"), ["match_key"], unique=False)

    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("system", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("scanned_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("changed_since", sa.DateTime(), nullable=True),
        sa.Column("found", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_table(
        "watermarks",
        sa.Column("system", sa.String(length=40), nullable=False),
        sa.Column("value", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("system", name=op.f("pk_watermarks")),
    )
    op.create_table(
        "child_risk_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("nominal_ref", sa.String(length=10), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_child_risk_assessments_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_risk_assessments")),
    )
    with op.batch_alter_table("child_risk_assessments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_child_risk_assessments_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "dash_assessments",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("officer_grading", sa.String(length=10), nullable=False),
        sa.Column("yes_count", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_dash_assessments_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_dash_assessments")),
    )
    op.create_table(
        "incident_people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("forename", sa.String(length=80), nullable=False),
        sa.Column("surname", sa.String(length=80), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("age_years", sa.Integer(), nullable=True),
        sa.Column("gender", sa.String(length=10), nullable=False),
        sa.Column("address_line1", sa.String(length=200), nullable=True),
        sa.Column("address_town", sa.String(length=80), nullable=True),
        sa.Column("address_postcode", sa.String(length=10), nullable=True),
        sa.Column("relationship", sa.String(length=120), nullable=True),
        sa.Column("school", sa.String(length=120), nullable=True),
        sa.Column("home_educated", sa.Boolean(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=True),
        sa.Column("voice_of_child", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_people_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_incident_people_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_people")),
    )
    with op.batch_alter_table("incident_people", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_people_address_postcode"), ["address_postcode"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_people_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_people_person_id"), ["person_id"], unique=False)

    op.create_table(
        "ppns",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(length=10), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_ppns_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_ppns")),
    )
    op.create_table(
        "scan_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("system", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("last_modified", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("job_id", sa.String(length=120), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_scan_items_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_items")),
        sa.UniqueConstraint("run_id", "reference", "last_modified", name=op.f("uq_scan_items_run_id")),
    )
    with op.batch_alter_table("scan_items", schema=None) as batch_op:
        batch_op.create_index("ix_scan_items_run_status", ["run_id", "status"], unique=False)

    _make_audit_append_only()


def downgrade() -> None:
    _drop_audit_triggers()
    with op.batch_alter_table("scan_items", schema=None) as batch_op:
        batch_op.drop_index("ix_scan_items_run_status")

    op.drop_table("scan_items")
    op.drop_table("ppns")
    with op.batch_alter_table("incident_people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_people_person_id"))
        batch_op.drop_index(batch_op.f("ix_incident_people_incident_id"))
        batch_op.drop_index(batch_op.f("ix_incident_people_address_postcode"))

    op.drop_table("incident_people")
    op.drop_table("dash_assessments")
    with op.batch_alter_table("child_risk_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_child_risk_assessments_incident_id"))

    op.drop_table("child_risk_assessments")
    op.drop_table("watermarks")
    op.drop_table("runs")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_match_key"))

    op.drop_table("people")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_reference"))

    op.drop_table("incidents")
    with op.batch_alter_table("data_quality_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_quality_items_reference"))

    op.drop_table("data_quality_items")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_entity_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")


_APPEND_ONLY_MESSAGE = "audit_events is append-only"


def _make_audit_append_only() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY_MESSAGE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse()"
        )


def _drop_audit_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_refuse()")
