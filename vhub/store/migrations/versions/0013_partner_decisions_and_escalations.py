"""Children's services decisions on the referrals sent, read from the front doors' portals, and the MOU's
escalations of decisions overdue.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 06:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("authority", sa.String(length=40), nullable=False),
        sa.Column("partner_reference", sa.String(length=60), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("wording", sa.String(length=120), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], name=op.f("fk_partner_decisions_draft_id_drafts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_decisions")),
        sa.UniqueConstraint("draft_id", "outcome", "decided_at", name=op.f("uq_partner_decisions_draft_id")),
    )
    op.create_index(op.f("ix_partner_decisions_draft_id"), "partner_decisions", ["draft_id"])
    op.create_index(op.f("ix_partner_decisions_authority"), "partner_decisions", ["authority"])
    op.create_table(
        "decision_escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("authority", sa.String(length=40), nullable=False),
        sa.Column("risk", sa.String(length=10), nullable=True),
        sa.Column("partner_reference", sa.String(length=60), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("police_role", sa.String(length=80), nullable=False),
        sa.Column("partner_role", sa.String(length=80), nullable=False),
        sa.Column("decision_due_at", sa.DateTime(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("alerted_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], name=op.f("fk_decision_escalations_draft_id_drafts")),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["partner_decisions.id"], name=op.f("fk_decision_escalations_closed_by_partner_decisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_escalations")),
        sa.UniqueConstraint("draft_id", "step", name=op.f("uq_decision_escalations_draft_id")),
    )
    op.create_index(op.f("ix_decision_escalations_draft_id"), "decision_escalations", ["draft_id"])
    op.create_index("ix_decision_escalations_open", "decision_escalations", ["closed_at", "authority"])


def downgrade() -> None:
    op.drop_table("decision_escalations")
    op.drop_table("partner_decisions")
