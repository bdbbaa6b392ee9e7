"""store snapshots: the marks of snapshots written from this database, and
the seq of the last erasure

Existing databases have written no snapshot and get ``erased_seq`` 0 (no
snapshot exists that an erasure could predate).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_counter", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("erased_seq", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "store_snapshot",
        sa.Column("mark", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("written_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mark", name=op.f("pk_store_snapshot")),
    )


def downgrade() -> None:
    op.drop_table("store_snapshot")
    with op.batch_alter_table("ingest_counter", schema=None) as batch_op:
        batch_op.drop_column("erased_seq")
