"""Triage results, drafts and ISR requests; when a run was handed to triage.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 10:19:55.663896
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "isr_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=20), nullable=False),
        sa.Column("requester", sa.String(length=120), nullable=False),
        sa.Column("requester_authority", sa.String(length=40), nullable=True),
        sa.Column("purpose", sa.String(length=120), nullable=False),
        sa.Column("lawful_basis", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("looked_up_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_isr_requests")),
        sa.UniqueConstraint("request_id", name=op.f("uq_isr_requests_request_id")),
    )
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("workflow", sa.String(length=20), nullable=False),
        sa.Column("source_ref", sa.String(length=40), nullable=False),
        sa.Column("source_version", sa.DateTime(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("isr_request_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("subject_key", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("recipient", sa.JSON(), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("authority", sa.String(length=40), nullable=True),
        sa.Column("policy", sa.String(length=20), nullable=True),
        sa.Column("risk", sa.String(length=10), nullable=True),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("deadline", sa.DateTime(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        sa.Column("attention_reason", sa.String(length=300), nullable=True),
        sa.Column("superseded_by", sa.Integer(), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_drafts_incident_id_incidents")),
        sa.ForeignKeyConstraint(
            ["isr_request_id"], ["isr_requests.id"], name=op.f("fk_drafts_isr_request_id_isr_requests")
        ),
        sa.ForeignKeyConstraint(["superseded_by"], ["drafts.id"], name=op.f("fk_drafts_superseded_by_drafts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_drafts_dedupe_key")),
    )
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drafts_authority"), ["authority"], unique=False)
        batch_op.create_index(batch_op.f("ix_drafts_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_drafts_isr_request_id"), ["isr_request_id"], unique=False)
        batch_op.create_index("ix_drafts_lineage", ["workflow", "source_ref", "subject"], unique=False)
        batch_op.create_index("ix_drafts_status_deadline", ["status", "deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_drafts_subject_key"), ["subject_key"], unique=False)

    op.create_table(
        "triage_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("version", sa.DateTime(), nullable=False),
        sa.Column("risk", sa.String(length=10), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("policing_area", sa.String(length=40), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("triaged_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_triage_results_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_results")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_triage_results_incident_id")),
    )
    with op.batch_alter_table("triage_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_triage_results_reference"), ["reference"], unique=False)
        batch_op.create_index(batch_op.f("ix_triage_results_risk"), ["risk"], unique=False)

    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("triage_queued_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("triage_queued_at")

    with op.batch_alter_table("triage_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_triage_results_risk"))
        batch_op.drop_index(batch_op.f("ix_triage_results_reference"))

    op.drop_table("triage_results")
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drafts_subject_key"))
        batch_op.drop_index("ix_drafts_status_deadline")
        batch_op.drop_index("ix_drafts_lineage")
        batch_op.drop_index(batch_op.f("ix_drafts_isr_request_id"))
        batch_op.drop_index(batch_op.f("ix_drafts_incident_id"))
        batch_op.drop_index(batch_op.f("ix_drafts_authority"))

    op.drop_table("drafts")
    op.drop_table("isr_requests")
