"""trainees' anonymous feedback responses

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 03:50:00.000000

A new table only; nothing recorded before changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trainee_feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("cohort_id", sa.Uuid(), nullable=False),
        sa.Column("session_number", sa.Integer(), nullable=True),
        sa.Column("form", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("created_at", shared.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id", "organisation_id"],
            ["cohort.id", "cohort.organisation_id"],
            name=op.f("fk_trainee_feedback_cohort_id_cohort"),
        ),
        sa.PrimaryKeyConstraint(
            "organisation_id", "id", name=op.f("pk_trainee_feedback")
        ),
    )
    with op.batch_alter_table("trainee_feedback", schema=None) as batch_op:
        for column in ("organisation_id", "cohort_id"):
            batch_op.create_index(batch_op.f(f"ix_trainee_feedback_{column}"), [column])


def downgrade() -> None:
    with op.batch_alter_table("trainee_feedback", schema=None) as batch_op:
        for column in ("cohort_id", "organisation_id"):
            batch_op.drop_index(batch_op.f(f"ix_trainee_feedback_{column}"))
    op.drop_table("trainee_feedback")
