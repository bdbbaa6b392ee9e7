"""group series: a group that meets over several sessions, named by its
sessions (group activities) and, for reports, by their services

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 00:40:00.000000

Group activities and services recorded before this revision belong to no
series.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "group_series",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "activity_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "topic_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("facilitator_staff_ids", sa.JSON(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("planned_sessions", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column(
            "created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", shared.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_group_series_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["location.id"], name=op.f("fk_group_series_site_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_group_series_team_id_team")
        ),
        sa.PrimaryKeyConstraint("organisation_id", "id", name=op.f("pk_group_series")),
    )
    with op.batch_alter_table("group_series", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_group_series_organisation_id"), ["organisation_id"]
        )
        batch_op.create_index(batch_op.f("ix_group_series_team_id"), ["team_id"])
    with op.batch_alter_table("group_activity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_series_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_group_activity_group_series_id"), ["group_series_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_group_activity_group_series_id_group_series"),
            "group_series",
            ["group_series_id", "organisation_id"],
            ["id", "organisation_id"],
        )
    for table in ("service_record", "anonymous_service"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("group_series_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    for table in ("anonymous_service", "service_record"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("group_series_id")
    with op.batch_alter_table("group_activity", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_group_activity_group_series_id_group_series"),
            type_="foreignkey",
        )
        batch_op.drop_index(batch_op.f("ix_group_activity_group_series_id"))
        batch_op.drop_column("group_series_id")
    with op.batch_alter_table("group_series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_series_team_id"))
        batch_op.drop_index(batch_op.f("ix_group_series_organisation_id"))
    op.drop_table("group_series")
