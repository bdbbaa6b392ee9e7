"""group activities say which organisations their participants came from

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 00:30:00.000000

Group activities recorded before this revision name none (an empty list):
their participants are reported under an unknown organisation.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("group_activity", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "participants_by_organisation",
                sa.JSON(),
                nullable=False,
                server_default="[]",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("group_activity", schema=None) as batch_op:
        batch_op.drop_column("participants_by_organisation")
