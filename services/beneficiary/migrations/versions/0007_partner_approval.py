"""partner approval: a partner link waits for the lead's admin

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:20:00.000000

Links made before this revision stay approved (``lead_organisation_id``);
review them with ``GET /v1/organisations`` after upgrading.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("requested_lead_organisation_id", sa.Uuid(), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "lead_approved_by",
                sqlmodel.sql.sqltypes.AutoString(length=255),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "lead_approved_at", shared.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_organisation_requested_lead_organisation_id_organisation"),
            "organisation",
            ["requested_lead_organisation_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_organisation_requested_lead_organisation_id_organisation"),
            type_="foreignkey",
        )
        batch_op.drop_column("lead_approved_at")
        batch_op.drop_column("lead_approved_by")
        batch_op.drop_column("requested_lead_organisation_id")
