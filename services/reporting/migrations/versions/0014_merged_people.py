"""merged people: a beneficiary fact merged into another person's

A record a supervisor merged into another person's stops counting as a
person; ``merged_into`` holds the kept person's key so that a late event
about the merged record is filed under the person kept.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 00:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("beneficiary_fact") as batch_op:
        batch_op.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("beneficiary_fact") as batch_op:
        batch_op.drop_column("merged_into")
