"""group_series_fact; the series of group activity and service facts

Facts folded before this revision belong to no series (null: "unknown" in a
breakdown by series); their producers' old events named none either.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 00:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "group_series_fact",
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alive", sa.Boolean(), nullable=False),
        sa.Column("series_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "activity_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "topic_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("planned_sessions", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_group_series_fact")),
        sa.UniqueConstraint(
            "organisation_id",
            "series_id",
            name=op.f("uq_group_series_fact_organisation_id_series_id"),
        ),
    )
    op.create_index(op.f("ix_group_series_fact_seq"), "group_series_fact", ["seq"])
    for table in ("group_activity_fact", "service_fact"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("series_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    for table in ("service_fact", "group_activity_fact"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("series_id")
    op.drop_index(op.f("ix_group_series_fact_seq"), table_name="group_series_fact")
    op.drop_table("group_series_fact")
