"""project, team and delivery mode on service facts; project on training
facts; project facts (period, organisations, targets)

Facts folded before this revision have none of them (null: "unknown" in a
breakdown); a replay of the producers' feeds does not add them either, as
their old events never carried them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 21:31:57.992813
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "project_fact",
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alive", sa.Boolean(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("partner_organisation_ids", sa.JSON(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_project_fact")),
        sa.UniqueConstraint("project_id", name=op.f("uq_project_fact_project_id")),
    )
    with op.batch_alter_table("project_fact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_fact_seq"), ["seq"], unique=False)

    with op.batch_alter_table("attendance_fact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))

    with op.batch_alter_table("result_fact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))

    with op.batch_alter_table("service_fact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "delivery_mode",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_service_fact_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("service_fact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_fact_project_id"))
        batch_op.drop_column("project_id")
        batch_op.drop_column("delivery_mode")
        batch_op.drop_column("team_id")

    with op.batch_alter_table("result_fact", schema=None) as batch_op:
        batch_op.drop_column("project_id")

    with op.batch_alter_table("attendance_fact", schema=None) as batch_op:
        batch_op.drop_column("project_id")

    with op.batch_alter_table("project_fact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_fact_seq"))

    op.drop_table("project_fact")
