"""group_participation_fact: a group session's or meeting's attendees by the
organisation they came from

Units folded before this revision have no lines here until their producer's
feed is replayed (a reset of the read model); their group activities' events
then bring one line of attendees from an unknown organisation each.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 00:35:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "group_participation_fact",
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alive", sa.Boolean(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("lead_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("delivered_through", _text(16), nullable=False),
        sa.Column("activity_code", _text(64), nullable=False),
        sa.Column("unit", _text(16), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("modality", _text(32), nullable=False),
        sa.Column("participant_organisation_id", sa.Uuid(), nullable=True),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_group_participation_fact")),
        sa.UniqueConstraint(
            "organisation_id",
            "activity_id",
            "line",
            name=op.f("uq_group_participation_fact_organisation_id_activity_id_line"),
        ),
    )
    op.create_index(
        op.f("ix_group_participation_fact_seq"), "group_participation_fact", ["seq"]
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_group_participation_fact_seq"), table_name="group_participation_fact"
    )
    op.drop_table("group_participation_fact")
