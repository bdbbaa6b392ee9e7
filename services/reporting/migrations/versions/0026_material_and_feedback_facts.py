"""material and feedback facts: items handed out; feedback answers

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 03:45:00.000000

New tables only: materials and feedback are recorded from this release on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "material_fact",
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alive", sa.Boolean(), nullable=False),
        sa.Column("distribution_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "item_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "language", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True
        ),
        sa.Column("distributed_on", sa.Date(), nullable=False),
        sa.Column("lead_organisation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "activity_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_material_fact")),
        sa.UniqueConstraint(
            "organisation_id",
            "distribution_id",
            name=op.f("uq_material_fact_organisation_id_distribution_id"),
        ),
    )
    with op.batch_alter_table("material_fact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_material_fact_seq"), ["seq"], unique=False)

    op.create_table(
        "feedback_fact",
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alive", sa.Boolean(), nullable=False),
        sa.Column("response_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("lead_organisation_id", sa.Uuid(), nullable=True),
        sa.Column("form", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("item", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("satisfied", sa.Boolean(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.Column(
            "activity_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("course_id", sa.Uuid(), nullable=True),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_feedback_fact")),
        sa.UniqueConstraint(
            "organisation_id",
            "response_id",
            "item",
            name=op.f("uq_feedback_fact_organisation_id_response_id_item"),
        ),
    )
    with op.batch_alter_table("feedback_fact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_fact_seq"), ["seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feedback_fact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_fact_seq"))
    op.drop_table("feedback_fact")
    with op.batch_alter_table("material_fact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_material_fact_seq"))
    op.drop_table("material_fact")
