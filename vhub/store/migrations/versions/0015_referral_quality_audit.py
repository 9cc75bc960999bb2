"""The monthly referral quality audit: each month's sample of sent referrals (drawn once), each auditor's scores of
a sampled referral, and the authority a partner's auditor belongs to.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("authority", sa.String(length=40), nullable=True))
    op.create_table(
        "audit_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(), nullable=False),
        sa.Column("drawn_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_samples")),
        sa.UniqueConstraint("month", name=op.f("uq_audit_samples_month")),
    )
    op.create_table(
        "audit_sample_referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("authority", sa.String(length=40), nullable=False),
        sa.Column("risk", sa.String(length=10), nullable=True),
        sa.Column("partner_reference", sa.String(length=60), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("content_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sample_id"], ["audit_samples.id"], name=op.f("fk_audit_sample_referrals_sample_id_audit_samples")
        ),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], name=op.f("fk_audit_sample_referrals_draft_id_drafts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_sample_referrals")),
        sa.UniqueConstraint("sample_id", "draft_id", name=op.f("uq_audit_sample_referrals_sample_id")),
    )
    op.create_index(op.f("ix_audit_sample_referrals_sample_id"), "audit_sample_referrals", ["sample_id"])
    op.create_index(op.f("ix_audit_sample_referrals_draft_id"), "audit_sample_referrals", ["draft_id"])
    op.create_index(op.f("ix_audit_sample_referrals_authority"), "audit_sample_referrals", ["authority"])
    op.create_table(
        "referral_audits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sampled_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sampled_id"],
            ["audit_sample_referrals.id"],
            name=op.f("fk_referral_audits_sampled_id_audit_sample_referrals"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_referral_audits_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_audits")),
        sa.UniqueConstraint("sampled_id", "user_id", name=op.f("uq_referral_audits_sampled_id")),
    )
    op.create_index(op.f("ix_referral_audits_sampled_id"), "referral_audits", ["sampled_id"])


def downgrade() -> None:
    op.drop_table("referral_audits")
    op.drop_table("audit_sample_referrals")
    op.drop_table("audit_samples")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("authority")
