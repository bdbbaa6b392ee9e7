"""team, delivery mode and project on group activity facts; project on
mentoring visit and action point facts

Facts folded before this revision have none of them (null: "unknown" in a
breakdown); a replay of the producers' feeds does not add them, as their
old events never carried them.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("group_activity_fact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "delivery_mode",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))
    for table in ("mentoring_visit_fact", "action_point_fact"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    for table in ("action_point_fact", "mentoring_visit_fact"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("project_id")
    with op.batch_alter_table("group_activity_fact", schema=None) as batch_op:
        batch_op.drop_column("project_id")
        batch_op.drop_column("delivery_mode")
        batch_op.drop_column("team_id")
