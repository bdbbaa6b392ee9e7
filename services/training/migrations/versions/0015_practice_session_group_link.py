"""a practice session names the group activity it was recorded as

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 03:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("practice_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_session_id", sa.Uuid(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_practice_session_group_session_id"), ["group_session_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("practice_session", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_practice_session_group_session_id"), type_="unique"
        )
        batch_op.drop_column("group_session_id")
