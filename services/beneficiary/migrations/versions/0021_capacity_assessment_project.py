"""a capacity assessment may name the project it was made under

Assessments recorded before this revision name none (null): they count as
``unknown`` in a breakdown of the capacity change by project.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 03:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("capacity_assessment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_capacity_assessment_project_id"),
            ["project_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("capacity_assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_capacity_assessment_project_id"))
        batch_op.drop_column("project_id")
