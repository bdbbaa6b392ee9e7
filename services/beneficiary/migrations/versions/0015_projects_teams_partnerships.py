"""projects, teams and partnerships; services name a team, mode and project

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 21:26:35.674032

Every partner approved before this revision gets an open-ended
partnership over every place and activity (origin ``lead_approval``), so
its new records keep counting under its lead until the lead ends it;
records already written keep how they counted
(docs/decisions/0012-projects-teams-partnerships.md).
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


DELIVERY_MODE = sa.Enum("centre", "mobile_team", "outreach_visit", name="deliverymode")


def upgrade() -> None:
    DELIVERY_MODE.create(op.get_bind(), checkfirst=True)
    mode = sa.Enum(
        "centre",
        "mobile_team",
        "outreach_visit",
        name="deliverymode",
        create_type=False,
    )
    op.create_table(
        "project",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "donor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        ),
        sa.Column(
            "grant_code", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True
        ),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("partner_organisation_ids", sa.JSON(), nullable=False),
        sa.Column("location_ids", sa.JSON(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_project_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project")),
    )
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "team",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("governorate", "mobile", "other", name="teamkind"),
            nullable=False,
        ),
        sa.Column("governorate_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["governorate_id"],
            ["location.id"],
            name=op.f("fk_team_governorate_id_location"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_team_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team")),
    )
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_team_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "partnership",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("partner_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("start", sa.Date(), nullable=True),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("location_ids", sa.JSON(), nullable=False),
        sa.Column("activity_codes", sa.JSON(), nullable=False),
        sa.Column(
            "origin",
            sa.Enum("agreement", "lead_approval", name="partnershiporigin"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_partnership_lead_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_partnership_partner_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_partnership_project_id_project"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnership")),
    )
    with op.batch_alter_table("partnership", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partnership_lead_organisation_id"),
            ["lead_organisation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_partnership_partner_organisation_id"),
            ["partner_organisation_id"],
            unique=False,
        )

    with op.batch_alter_table("anonymous_service", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("delivery_mode", mode, nullable=True))
        batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_anonymous_service_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_anonymous_service_team_id"), ["team_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_anonymous_service_team_id_team"), "team", ["team_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_anonymous_service_project_id_project"),
            "project",
            ["project_id"],
            ["id"],
        )

    with op.batch_alter_table("beneficiary", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_beneficiary_team_id"), ["team_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_beneficiary_team_id_team"), "team", ["team_id"], ["id"]
        )

    with op.batch_alter_table("group_activity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("delivery_mode", mode, nullable=True))
        batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_group_activity_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_group_activity_team_id"), ["team_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_group_activity_team_id_team"), "team", ["team_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_group_activity_project_id_project"),
            "project",
            ["project_id"],
            ["id"],
        )

    with op.batch_alter_table("service_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("delivery_mode", mode, nullable=True))
        batch_op.add_column(sa.Column("project_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_service_record_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_record_team_id"), ["team_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_service_record_project_id_project"),
            "project",
            ["project_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_service_record_team_id_team"), "team", ["team_id"], ["id"]
        )

    _open_ended_partnerships_for_approved_partners()


def _open_ended_partnerships_for_approved_partners() -> None:
    organisation = sa.table(
        "organisation",
        sa.column("id", sa.Uuid()),
        sa.column("lead_organisation_id", sa.Uuid()),
        sa.column("lead_approved_by", sa.String()),
        sa.column("created_at", shared.db.UTCDateTime(timezone=True)),
    )
    partnership = sa.table(
        "partnership",
        sa.column("id", sa.Uuid()),
        sa.column("lead_organisation_id", sa.Uuid()),
        sa.column("partner_organisation_id", sa.Uuid()),
        sa.column("location_ids", sa.JSON()),
        sa.column("activity_codes", sa.JSON()),
        sa.column("origin", sa.String()),
        sa.column("version", sa.Integer()),
        sa.column("created_by", sa.String()),
        sa.column("created_at", shared.db.UTCDateTime(timezone=True)),
        sa.column("updated_at", shared.db.UTCDateTime(timezone=True)),
    )
    bind = op.get_bind()
    approved = bind.execute(
        sa.select(organisation.c.id, organisation.c.lead_organisation_id).where(
            organisation.c.lead_organisation_id.is_not(None)
        )
    ).all()
    now = shared.db.utcnow()
    for partner_id, lead_id in approved:
        bind.execute(
            partnership.insert().values(
                id=uuid.uuid4(),
                lead_organisation_id=lead_id,
                partner_organisation_id=partner_id,
                location_ids=[],
                activity_codes=[],
                origin="lead_approval",
                version=1,
                created_by="migration 0010",
                created_at=now,
                updated_at=now,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("service_record", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_service_record_team_id_team"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_service_record_project_id_project"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_service_record_team_id"))
        batch_op.drop_index(batch_op.f("ix_service_record_project_id"))
        batch_op.drop_column("project_id")
        batch_op.drop_column("delivery_mode")
        batch_op.drop_column("team_id")

    with op.batch_alter_table("group_activity", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_group_activity_project_id_project"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_group_activity_team_id_team"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_group_activity_team_id"))
        batch_op.drop_index(batch_op.f("ix_group_activity_project_id"))
        batch_op.drop_column("project_id")
        batch_op.drop_column("delivery_mode")
        batch_op.drop_column("team_id")

    with op.batch_alter_table("beneficiary", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_beneficiary_team_id_team"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_beneficiary_team_id"))
        batch_op.drop_column("team_id")

    with op.batch_alter_table("anonymous_service", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_anonymous_service_project_id_project"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_anonymous_service_team_id_team"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_anonymous_service_team_id"))
        batch_op.drop_index(batch_op.f("ix_anonymous_service_project_id"))
        batch_op.drop_column("project_id")
        batch_op.drop_column("delivery_mode")
        batch_op.drop_column("team_id")

    with op.batch_alter_table("partnership", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partnership_partner_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_partnership_lead_organisation_id"))

    op.drop_table("partnership")
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_organisation_id"))

    op.drop_table("team")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_organisation_id"))

    op.drop_table("project")
    for enum in ("deliverymode", "teamkind", "partnershiporigin"):
        sa.Enum(name=enum).drop(op.get_bind(), checkfirst=True)
