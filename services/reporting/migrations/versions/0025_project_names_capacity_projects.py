"""project names for labels; capacity scores, capacity-building services and
meeting participants by project (and participants by team and delivery mode)

Projects saved before this revision have no name until they are next saved
(a breakdown shows their id); facts folded before it have no project, team
or delivery mode (``unknown`` in those breakdowns) until the feeds are
replayed, and meeting participants folded before it are hidden from
team-scoped readers, as facts without a team are.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 03:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project_fact", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
            )
        )
    with op.batch_alter_table("capacity_score_fact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("capacity_fact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("group_participation_fact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "delivery_mode",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("group_participation_fact", schema=None) as batch_op:
        batch_op.drop_column("project_id")
        batch_op.drop_column("delivery_mode")
        batch_op.drop_column("team_id")
    with op.batch_alter_table("capacity_fact", schema=None) as batch_op:
        batch_op.drop_column("project_id")
    with op.batch_alter_table("capacity_score_fact", schema=None) as batch_op:
        batch_op.drop_column("project_id")
    with op.batch_alter_table("project_fact", schema=None) as batch_op:
        batch_op.drop_column("name")
