"""Idempotency-Keys of reporting's writes (exports, API keys)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "subject", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "route", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column(
            "fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint(
            "organisation_id",
            "subject",
            "key",
            name=op.f("uq_idempotency_record_organisation_id_subject_key"),
        ),
    )


def downgrade() -> None:
    op.drop_table("idempotency_record")
