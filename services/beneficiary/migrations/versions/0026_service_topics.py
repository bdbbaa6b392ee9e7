"""several topics per service record: ``service_record.topic_codes``

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 06:45:00.000000

A record written before this revision keeps its one topic as a list of one
(``[topic_code]``), or an empty list when it had none; ``topic_code`` stays,
the first of the list, for readers that know only it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_record", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "topic_codes",
                sa.JSON(),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )
    as_list = (
        "json_array(topic_code)"
        if op.get_bind().dialect.name == "sqlite"
        else "json_build_array(topic_code)"
    )
    op.execute(
        f"UPDATE service_record SET topic_codes = {as_list}"
        " WHERE topic_code IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("service_record", schema=None) as batch_op:
        batch_op.drop_column("topic_codes")
