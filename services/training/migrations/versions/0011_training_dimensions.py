"""training dimensions: a cohort's site, a session's topic code, a trainee's
own organisation, a supervision session's purpose

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 21:45:00.000000

Reports count people trained by place, topic and the organisation each
participant works for; ``location``, ``topic`` and ``affiliation`` are free
text and never leave this service, so each gets a reference or a code
beside it. Rows written before have none (reported as ``unknown``). A
supervision session says whether it was supervision, coaching or mentoring
(capacity building counts them apart); earlier ones were supervision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cohort", sa.Column("site_id", sa.Uuid(), nullable=True))
    op.add_column(
        "cohort_session",
        sa.Column(
            "topic_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
    )
    op.add_column(
        "trainee", sa.Column("affiliation_organisation_id", sa.Uuid(), nullable=True)
    )
    op.add_column(
        "supervision_session",
        sa.Column(
            "purpose",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            nullable=False,
            server_default="supervision",
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("supervision_session") as batch:
        batch.drop_column("purpose")
    with op.batch_alter_table("trainee") as batch:
        batch.drop_column("affiliation_organisation_id")
    with op.batch_alter_table("cohort_session") as batch:
        batch.drop_column("topic_code")
    with op.batch_alter_table("cohort") as batch:
        batch.drop_column("site_id")
