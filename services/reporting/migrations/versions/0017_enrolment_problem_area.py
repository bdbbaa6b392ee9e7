"""problem_area on enrolment facts

Enrolments folded before this revision have none (null: "unknown" in a
breakdown by problem area).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrolment_fact", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "problem_area",
                sqlmodel.sql.sqltypes.AutoString(length=32),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("enrolment_fact", schema=None) as batch_op:
        batch_op.drop_column("problem_area")
