"""location names in other languages, for place labels in a report's language

Locations copied before this keep ``{}`` (English names) until the next
dimension refresh fills them from the beneficiary service.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("location_dim", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "names", sa.JSON(), nullable=False, server_default=sa.text("'{}'")
            )
        )
        batch_op.alter_column("names", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("location_dim", schema=None) as batch_op:
        batch_op.drop_column("names")
