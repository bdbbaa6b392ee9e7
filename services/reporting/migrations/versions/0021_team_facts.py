"""team facts: a team's name and kind, to label breakdowns by team

Teams saved before their producer sent ``team.saved`` have no row until
they are next edited: a breakdown shows their id without a label.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "team_fact",
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alive", sa.Boolean(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_team_fact")),
        sa.UniqueConstraint("team_id", name=op.f("uq_team_fact_team_id")),
    )
    with op.batch_alter_table("team_fact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_fact_seq"), ["seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("team_fact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_fact_seq"))
    op.drop_table("team_fact")
