"""retention policy version: a change names the version it replaces

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:15:00.000000

Existing policies start at version 1; version 0 stands for the platform
default (no policy of the organisation's own).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("retention_policy", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("retention_policy", schema=None) as batch_op:
        batch_op.drop_column("version")
