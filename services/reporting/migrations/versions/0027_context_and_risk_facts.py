"""services by topic and language, cases by presenting problem, risk alerts
by risk type

Services folded before this revision have no topic or language (reported as
unknown until their records are next edited); cases have no presenting-problem
lines until their next event; alerts, never folded before, are counted from
the events read after it (an alert acknowledged later is counted then).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 03:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fact_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alive", sa.Boolean(), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("service_fact", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "topic_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "language", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True
            )
        )
    op.create_table(
        "case_problem_fact",
        *_fact_columns(),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("beneficiary_key", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column(
            "problem", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_case_problem_fact")),
        sa.UniqueConstraint(
            "organisation_id",
            "case_id",
            "line",
            name=op.f("uq_case_problem_fact_organisation_id_case_id_line"),
        ),
    )
    op.create_index(op.f("ix_case_problem_fact_seq"), "case_problem_fact", ["seq"])
    op.create_table(
        "risk_alert_fact",
        *_fact_columns(),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=True),
        sa.Column(
            "risk_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False
        ),
        sa.Column("raised_on", sa.Date(), nullable=True),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_risk_alert_fact")),
        sa.UniqueConstraint(
            "organisation_id",
            "alert_id",
            name=op.f("uq_risk_alert_fact_organisation_id_alert_id"),
        ),
    )
    op.create_index(op.f("ix_risk_alert_fact_seq"), "risk_alert_fact", ["seq"])


def downgrade() -> None:
    op.drop_index(op.f("ix_risk_alert_fact_seq"), table_name="risk_alert_fact")
    op.drop_table("risk_alert_fact")
    op.drop_index(op.f("ix_case_problem_fact_seq"), table_name="case_problem_fact")
    op.drop_table("case_problem_fact")
    with op.batch_alter_table("service_fact", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("topic_code")
