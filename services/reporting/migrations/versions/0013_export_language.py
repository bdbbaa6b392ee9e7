"""Exports keep the language their labels are in

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 00:30:00.000000

An export's label columns and its "About" sheet are written in the language
asked for (``lang``, else the request's Accept-Language). Exports asked for
before this revision have none and are written in English, as they were.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("export", sa.Column("lang", sa.String(length=8)))


def downgrade() -> None:
    with op.batch_alter_table("export") as batch:
        batch.drop_column("lang")
