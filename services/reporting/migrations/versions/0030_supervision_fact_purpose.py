"""a supervision fact keeps its purpose: supervision, coaching or mentoring

The supervision indicators count clinical supervision only, as
certification's supervision hours do; coaching and mentoring sessions stay
in the capacity-building family. Facts folded before take their purpose
from their capacity-building rows (one per supervisee, same session id),
which carried it all along; a session with none is supervision, the
training service's default.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 06:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("supervision_fact", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "purpose",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="supervision",
            )
        )
    op.execute(
        "UPDATE supervision_fact SET purpose = ("
        " SELECT MIN(capacity_fact.component) FROM capacity_fact"
        " WHERE capacity_fact.organisation_id = supervision_fact.organisation_id"
        " AND capacity_fact.source_id = supervision_fact.supervision_id"
        " AND capacity_fact.component != 'training')"
        " WHERE EXISTS (SELECT 1 FROM capacity_fact"
        " WHERE capacity_fact.organisation_id = supervision_fact.organisation_id"
        " AND capacity_fact.source_id = supervision_fact.supervision_id"
        " AND capacity_fact.component != 'training')"
    )
    with op.batch_alter_table("supervision_fact", schema=None) as batch_op:
        batch_op.alter_column("purpose", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("supervision_fact", schema=None) as batch_op:
        batch_op.drop_column("purpose")
