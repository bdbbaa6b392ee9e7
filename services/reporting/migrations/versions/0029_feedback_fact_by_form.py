"""a feedback fact is one item of one response to one form

Participants' responses (beneficiary service) and trainees' (training
service) take their ids in separate tables, so the same organisation may
hold a participant response and a trainee response under one id; their
forms differ (a form has one audience), so the form keeps them apart.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 05:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ["organisation_id", "response_id", "item"]
NEW = ["organisation_id", "response_id", "form", "item"]


def upgrade() -> None:
    with op.batch_alter_table("feedback_fact", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("uq_feedback_fact_organisation_id_response_id_item"), type_="unique"
        )
        batch_op.create_unique_constraint(
            op.f("uq_feedback_fact_organisation_id_response_id_form_item"), NEW
        )


def downgrade() -> None:
    with op.batch_alter_table("feedback_fact", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("uq_feedback_fact_organisation_id_response_id_form_item"),
            type_="unique",
        )
        batch_op.create_unique_constraint(
            op.f("uq_feedback_fact_organisation_id_response_id_item"), OLD
        )
