"""attendance versions: a change names the version it was read at

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cohort_session") as batch:
        batch.add_column(
            sa.Column(
                "attendance_version", sa.Integer(), nullable=False, server_default="0"
            )
        )
    op.execute(
        "UPDATE cohort_session SET attendance_version = 1 WHERE EXISTS "
        "(SELECT 1 FROM attendance WHERE attendance.session_id = cohort_session.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("cohort_session") as batch:
        batch.drop_column("attendance_version")
