"""Capacity building as one family: training, supervision, coaching, mentoring

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 22:00:00.000000

One row per trainee per training session attended or supervision session
taken part in, so the family's parts add up to its total. Rows come from
attendance and supervision events folded from now on; a deployment that
wants the earlier ones re-reads the training feed from 0.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "capacity_fact",
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alive", sa.Boolean(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("trainee_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "component", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_capacity_fact")),
        sa.UniqueConstraint(
            "source_id",
            "trainee_id",
            name=op.f("uq_capacity_fact_source_id_trainee_id"),
        ),
    )
    op.create_index(op.f("ix_capacity_fact_seq"), "capacity_fact", ["seq"])


def downgrade() -> None:
    op.drop_index(op.f("ix_capacity_fact_seq"), table_name="capacity_fact")
    op.drop_table("capacity_fact")
