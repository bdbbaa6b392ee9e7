"""materials distributed, and anonymous feedback responses, on group
activities and service records

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 03:40:00.000000

New tables only; nothing recorded before changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "material_distribution",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("group_activity_id", sa.Uuid(), nullable=True),
        sa.Column("service_record_id", sa.Uuid(), nullable=True),
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
        sa.Column(
            "created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column(
            "void_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", shared.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "(group_activity_id IS NULL) <> (service_record_id IS NULL)",
            name=op.f("ck_material_distribution_one_record"),
        ),
        sa.CheckConstraint(
            "quantity > 0", name=op.f("ck_material_distribution_quantity")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_material_distribution_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["lead_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_material_distribution_lead_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["group_activity_id", "organisation_id"],
            ["group_activity.id", "group_activity.organisation_id"],
            name=op.f("fk_material_distribution_group_activity_id_group_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["service_record_id", "organisation_id"],
            ["service_record.id", "service_record.organisation_id"],
            name=op.f("fk_material_distribution_service_record_id_service_record"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["location.id"],
            name=op.f("fk_material_distribution_site_id_location"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_material_distribution_team_id_team")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_material_distribution_project_id_project"),
        ),
        sa.PrimaryKeyConstraint(
            "organisation_id", "id", name=op.f("pk_material_distribution")
        ),
    )
    with op.batch_alter_table("material_distribution", schema=None) as batch_op:
        for column in ("organisation_id", "group_activity_id", "service_record_id"):
            batch_op.create_index(
                batch_op.f(f"ix_material_distribution_{column}"), [column]
            )

    op.create_table(
        "feedback_response",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("form", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("group_activity_id", sa.Uuid(), nullable=True),
        sa.Column("service_record_id", sa.Uuid(), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.Column("lead_organisation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "activity_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("created_at", shared.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "(group_activity_id IS NULL) <> (service_record_id IS NULL)",
            name=op.f("ck_feedback_response_one_record"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_feedback_response_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["lead_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_feedback_response_lead_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["group_activity_id", "organisation_id"],
            ["group_activity.id", "group_activity.organisation_id"],
            name=op.f("fk_feedback_response_group_activity_id_group_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["service_record_id", "organisation_id"],
            ["service_record.id", "service_record.organisation_id"],
            name=op.f("fk_feedback_response_service_record_id_service_record"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["location.id"],
            name=op.f("fk_feedback_response_site_id_location"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_feedback_response_team_id_team")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_feedback_response_project_id_project"),
        ),
        sa.PrimaryKeyConstraint(
            "organisation_id", "id", name=op.f("pk_feedback_response")
        ),
    )
    with op.batch_alter_table("feedback_response", schema=None) as batch_op:
        for column in ("organisation_id", "group_activity_id", "service_record_id"):
            batch_op.create_index(
                batch_op.f(f"ix_feedback_response_{column}"), [column]
            )


def downgrade() -> None:
    with op.batch_alter_table("feedback_response", schema=None) as batch_op:
        for column in ("service_record_id", "group_activity_id", "organisation_id"):
            batch_op.drop_index(batch_op.f(f"ix_feedback_response_{column}"))
    op.drop_table("feedback_response")
    with op.batch_alter_table("material_distribution", schema=None) as batch_op:
        for column in ("service_record_id", "group_activity_id", "organisation_id"):
            batch_op.drop_index(batch_op.f(f"ix_material_distribution_{column}"))
    op.drop_table("material_distribution")
