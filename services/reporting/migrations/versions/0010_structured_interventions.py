"""Structured interventions: enrolments and the protocol sessions attended

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 22:10:00.000000

``enrolment.updated`` events were ignored. They now carry the enrolment and
status dates, the site and every protocol session's date; reporting folds
them into ``enrolment_fact`` and ``intervention_session_fact``. Events
written before carry no dates and are skipped; the beneficiary service's
migration 0010 sends every enrolment again, as it stands.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fact_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alive", sa.Boolean(), nullable=False),
    ]


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "enrolment_fact",
        *_fact_columns(),
        sa.Column("enrolment_id", sa.Uuid(), nullable=False),
        sa.Column("beneficiary_key", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("intervention", _text(32), nullable=False),
        sa.Column("status", _text(16), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("status_on", sa.Date(), nullable=False),
        sa.Column("sessions_attended", sa.Integer(), nullable=False),
        sa.Column("sessions_planned", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_enrolment_fact")),
        sa.UniqueConstraint(
            "organisation_id",
            "enrolment_id",
            name=op.f("uq_enrolment_fact_organisation_id_enrolment_id"),
        ),
    )
    op.create_index(op.f("ix_enrolment_fact_seq"), "enrolment_fact", ["seq"])
    op.create_table(
        "intervention_session_fact",
        *_fact_columns(),
        sa.Column("enrolment_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("beneficiary_key", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column("intervention", _text(32), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_intervention_session_fact")),
        sa.UniqueConstraint(
            "organisation_id",
            "enrolment_id",
            "number",
            name=op.f("uq_intervention_session_fact_session"),
        ),
    )
    op.create_index(
        op.f("ix_intervention_session_fact_seq"), "intervention_session_fact", ["seq"]
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_intervention_session_fact_seq"), table_name="intervention_session_fact"
    )
    op.drop_table("intervention_session_fact")
    op.drop_index(op.f("ix_enrolment_fact_seq"), table_name="enrolment_fact")
    op.drop_table("enrolment_fact")
