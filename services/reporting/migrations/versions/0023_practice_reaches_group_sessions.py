"""the group session of service and practice facts (practice feeds care)

A service fact names the group activity whose attendance it is; a practice
session fact names the group activity it was recorded as. Facts folded
before this revision name none (their events named none either for practice
sessions); a service record's next event brings its group activity in.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_fact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_activity_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("practice_session_fact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_session_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("practice_session_fact", schema=None) as batch_op:
        batch_op.drop_column("group_session_id")
    with op.batch_alter_table("service_fact", schema=None) as batch_op:
        batch_op.drop_column("group_activity_id")
