"""merged people: a duplicate record points at the person it was merged into

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 00:30:00.000000

A supervisor's merge moves one record's services, cases and consents to
the person kept; the merged record stays, for its history and so that a
late write naming it is refused with where the person went.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("beneficiary") as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("merged_at", UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            "fk_beneficiary_merged_into_id_beneficiary",
            "beneficiary",
            ["merged_into_id", "organisation_id"],
            ["id", "organisation_id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("beneficiary") as batch_op:
        batch_op.drop_constraint(
            "fk_beneficiary_merged_into_id_beneficiary", type_="foreignkey"
        )
        batch_op.drop_column("merged_at")
        batch_op.drop_column("merged_into_id")
