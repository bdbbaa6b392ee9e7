"""a group activity keeps the protocol session it was recorded as

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 07:00:00.000000

Group activities recorded before this revision did not keep it: theirs is
null (the enrolments they moved keep their session attendance).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("group_activity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("protocol_session", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("group_activity", schema=None) as batch_op:
        batch_op.drop_column("protocol_session")
