"""nationality on beneficiary facts

People folded before this revision have none (null: "unknown" in a
breakdown by nationality) until their producer's feed is read again from 0
or they are updated; ``beneficiary.*`` events have carried it all along.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 01:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("beneficiary_fact", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "nationality", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("beneficiary_fact", schema=None) as batch_op:
        batch_op.drop_column("nationality")
