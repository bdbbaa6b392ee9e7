"""risk alerts say whom they notify; service records carry a topic and a language

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 03:40:00.000000

Alerts raised before this revision notified the case's supervisor only
(``notify_roles`` empty); service records before it have no topic or
language (null). ``risk_alert.flag`` already holds the risk type's code.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("risk_alert", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "notify_roles",
                sa.JSON(),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )
    with op.batch_alter_table("service_record", schema=None) as batch_op:
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
    with op.batch_alter_table("service_record", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("topic_code")
    with op.batch_alter_table("risk_alert", schema=None) as batch_op:
        batch_op.drop_column("notify_roles")
