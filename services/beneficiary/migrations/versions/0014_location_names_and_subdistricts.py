"""location names per language, sub-districts (admin 3), location loads

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 21:40:00.000000

Names from the P-code tables in English, Arabic and Kurdish sit in one JSON
column beside the English ``name``; admin 3 units are a level of their own;
each load of a country's tables is kept (``location_load``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("names", sa.JSON(), nullable=False, server_default="{}")
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE locationlevel ADD VALUE IF NOT EXISTS 'subdistrict'")
    op.create_table(
        "location_load",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False
        ),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("renamed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("by_level", sa.JSON(), nullable=False),
        sa.Column(
            "loaded_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        ),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_load")),
    )


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value; sub-districts stay possible.
    op.drop_table("location_load")
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.drop_column("names")
