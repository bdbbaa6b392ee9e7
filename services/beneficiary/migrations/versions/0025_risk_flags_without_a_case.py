"""risk flags on a registered person without a case: ``risk_alert.case_id``
may be empty

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 06:30:00.000000

Alerts raised before this revision all name their case and keep it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("risk_alert", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM risk_alert WHERE case_id IS NULL")
    with op.batch_alter_table("risk_alert", schema=None) as batch_op:
        batch_op.alter_column("case_id", existing_type=sa.Uuid(), nullable=False)
