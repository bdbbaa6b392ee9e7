"""duplicate keys: name with birth date, phone with registration time

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 21:45:00.000000

Duplicate candidates are looked up by the name's blind index together with
the birth date, or by the phone's blind index, each within the organisation:
a bounded range read per new person however many share a common name. The
keys are columns every row has already (kept current by ``rotate-keys``),
so existing rows need no backfill: building the indexes covers them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_beneficiary_duplicate_name",
        "beneficiary",
        ["organisation_id", "name_index", "date_of_birth"],
    )
    op.create_index(
        "ix_beneficiary_duplicate_phone",
        "beneficiary",
        ["organisation_id", "phone_index", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_beneficiary_duplicate_phone", table_name="beneficiary")
    op.drop_index("ix_beneficiary_duplicate_name", table_name="beneficiary")
