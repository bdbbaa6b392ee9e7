"""Group sessions and meetings as units

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:40:00.000000

A group activity's attendees were each a service, and nothing counted the
session or meeting itself. ``group_activity_fact`` holds one row per group
activity (``group_activity.recorded``, emitted from now on, and once for
earlier ones by the beneficiary service's migration 0010) and per
anonymous service of a group activity recorded on its own. Anonymous
services already folded are not replayed here: a deployment that wants
their units re-reads the beneficiary feed from 0 (ingestion is idempotent).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "group_activity_fact",
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alive", sa.Boolean(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("lead_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("delivered_through", _text(16), nullable=False),
        sa.Column("activity_code", _text(64), nullable=False),
        sa.Column("unit", _text(16), nullable=False),
        sa.Column("iasc_layer", _text(32), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("modality", _text(32), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("attendees", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_group_activity_fact")),
        sa.UniqueConstraint(
            "organisation_id",
            "activity_id",
            name=op.f("uq_group_activity_fact_organisation_id_activity_id"),
        ),
    )
    op.create_index(op.f("ix_group_activity_fact_seq"), "group_activity_fact", ["seq"])


def downgrade() -> None:
    op.drop_index(op.f("ix_group_activity_fact_seq"), table_name="group_activity_fact")
    op.drop_table("group_activity_fact")
