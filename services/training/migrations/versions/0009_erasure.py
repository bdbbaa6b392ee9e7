"""trainee erasure and the beneficiary erasures cursor

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_cursor",
        sa.Column(
            "source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False
        ),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_feed_cursor")),
    )
    with op.batch_alter_table("trainee") as batch:
        batch.add_column(
            sa.Column(
                "pii_erased_at", shared.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch.alter_column("full_name_enc", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE trainee SET full_name_enc = '' WHERE full_name_enc IS NULL")
    with op.batch_alter_table("trainee") as batch:
        batch.alter_column("full_name_enc", existing_type=sa.Text(), nullable=False)
        batch.drop_column("pii_erased_at")
    op.drop_table("feed_cursor")
