"""location names per language and sub-districts (admin 3)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 21:40:00.000000

Names from the P-code tables in English, Arabic and Kurdish sit in one JSON
column beside the English ``name``; admin 3 units are a level of their own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("names", sa.JSON(), nullable=False, server_default="{}")
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE locationlevel ADD VALUE IF NOT EXISTS 'subdistrict'")


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value; sub-districts stay possible.
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.drop_column("names")
