"""The child risk assessment quality audit: what each assessment records for it (age, voice of the child, risk
factors, actions with owners, the assessing officer's area and team) and each child's score.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_NEW_COLUMNS: dict[str, Callable[[], sa.types.TypeEngine[Any]]] = {
    "age_years": sa.Integer,
    "voice_of_child": sa.Text,
    "risk_factors": sa.JSON,
    "actions": sa.JSON,
    "area": lambda: sa.String(length=80),
    "team": lambda: sa.String(length=80),
}


def upgrade() -> None:
    with op.batch_alter_table("child_risk_assessments") as batch:
        for name, kind in _NEW_COLUMNS.items():
            batch.add_column(sa.Column(name, kind(), nullable=True))
    op.create_table(
        "cra_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("nominal_ref", sa.String(length=10), nullable=False),
        sa.Column("assessed", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("lacking", sa.JSON(), nullable=False),
        sa.Column("area", sa.String(length=80), nullable=True),
        sa.Column("team", sa.String(length=80), nullable=True),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_cra_scores_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cra_scores")),
    )
    op.create_index(op.f("ix_cra_scores_incident_id"), "cra_scores", ["incident_id"])
    op.create_index("ix_cra_scores_occurred_at", "cra_scores", ["occurred_at"])


def downgrade() -> None:
    op.drop_table("cra_scores")
    with op.batch_alter_table("child_risk_assessments") as batch:
        for name in reversed(_NEW_COLUMNS):
            batch.drop_column(name)
