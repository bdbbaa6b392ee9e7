"""a mentoring plan names the project it is carried out under (an opaque id)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mentoring_plan", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_mentoring_plan_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("mentoring_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mentoring_plan_project_id"))
        batch_op.drop_column("project_id")
