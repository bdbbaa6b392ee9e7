"""Touched months are kept per organisation

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVERYONE = "00000000-0000-0000-0000-000000000000"


def _everyone() -> str:
    if op.get_bind().dialect.name == "sqlite":  # Uuid is CHAR(32) there
        return EVERYONE.replace("-", "")
    return EVERYONE


def upgrade() -> None:
    with op.batch_alter_table("touched_period") as batch:
        batch.add_column(
            sa.Column(
                "organisation_id",
                sa.Uuid(),
                nullable=False,
                server_default=sa.text(f"'{_everyone()}'"),
            )
        )
        batch.drop_constraint("pk_touched_period", type_="primary")
        batch.create_primary_key(
            "pk_touched_period", ["seq", "month", "organisation_id"]
        )
    with op.batch_alter_table("touched_period") as batch:
        batch.alter_column("organisation_id", server_default=None)


def downgrade() -> None:
    """Every month touched in any organisation becomes a month for everyone,
    as it was."""
    everyone = f"'{_everyone()}'"
    op.execute(
        "INSERT INTO touched_period (seq, month, organisation_id, occurred_at) "
        f"SELECT seq, month, {everyone}, max(occurred_at) FROM touched_period t "
        "WHERE NOT EXISTS (SELECT 1 FROM touched_period e WHERE e.seq = t.seq "
        f"AND e.month = t.month AND e.organisation_id = {everyone}) "
        "GROUP BY seq, month"
    )
    op.execute(f"DELETE FROM touched_period WHERE organisation_id <> {everyone}")
    with op.batch_alter_table("touched_period") as batch:
        batch.drop_constraint("pk_touched_period", type_="primary")
        batch.create_primary_key("pk_touched_period", ["seq", "month"])
        batch.drop_column("organisation_id")
