"""organisations' default language, copied from the beneficiary service

Organisations copied before this read English (``en``) until the next
dimension refresh copies their default language.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisation_dim", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "default_language",
                sqlmodel.sql.sqltypes.AutoString(length=8),
                nullable=False,
                server_default="en",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("organisation_dim", schema=None) as batch_op:
        batch_op.drop_column("default_language")
