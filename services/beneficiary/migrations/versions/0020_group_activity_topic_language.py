"""group activities say their topic and the language they were held in

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 01:15:00.000000

Group activities recorded before this revision have neither (null).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("group_activity", schema=None) as batch_op:
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


def downgrade() -> None:
    with op.batch_alter_table("group_activity", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("topic_code")
