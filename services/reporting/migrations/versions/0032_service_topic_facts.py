"""services by topic, a line per topic: ``service_topic_fact``

Services folded before this revision get the line of the one topic they had
(or a line with none), copied from ``service_fact`` with its position, so
``services_by_topic`` counts them at once; a record's next event rewrites
its lines.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 06:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_topic_fact",
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alive", sa.Boolean(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("beneficiary_key", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("lead_organisation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "activity_code",
            sqlmodel.sql.sqltypes.AutoString(length=64),
            nullable=False,
        ),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column(
            "language", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True
        ),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_service_topic_fact")),
        sa.UniqueConstraint(
            "organisation_id",
            "record_id",
            "line",
            name=op.f("uq_service_topic_fact_organisation_id_record_id_line"),
        ),
    )
    op.create_index(op.f("ix_service_topic_fact_seq"), "service_topic_fact", ["seq"])
    op.execute(
        "INSERT INTO service_topic_fact (position, seq, alive, record_id, line,"
        " beneficiary_key, organisation_id, lead_organisation_id, activity_code,"
        " site_id, team_id, project_id, topic, language, service_date)"
        " SELECT position, seq, alive, record_id, 0, beneficiary_key,"
        " organisation_id, lead_organisation_id, activity_code, site_id, team_id,"
        " project_id, topic_code, language, service_date"
        " FROM service_fact WHERE NOT anonymous"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_service_topic_fact_seq"), table_name="service_topic_fact")
    op.drop_table("service_topic_fact")
