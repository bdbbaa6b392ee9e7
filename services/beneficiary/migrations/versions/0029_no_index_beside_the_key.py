"""no index beside the key that starts with the organisation

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 12:50:00.000000

The key of a table whose ids are per organisation is (organisation_id, id),
so an index on organisation_id alone only repeats its start; people, consent
entries and the three kinds of records had one. A person also had two
duplicate-check indexes starting with organisation_id and one index on each
blind index alone. A foreign key's check (``WHERE id = $1 AND
organisation_id = $2``, planned once per connection) could then pick any
index starting with the organisation when the plan was made on an empty
table, and read every person of the organisation for each consent entry and
service record written: an import of 20 000 rows into a new database read
330 million index entries. The duplicate-check indexes now start with the
blind index (they still serve the lookups by blind index alone), and the
indexes the key repeats are gone: four writes fewer per person and one per
consent entry and record. A consent entry's index on its person also names
the organisation, so that the ledgers' look-up (person and organisation)
reads it rather than the key.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPEATED = (
    "beneficiary",
    "consent_entry",
    "service_record",
    "group_activity",
    "anonymous_service",
)
DUPLICATE_CHECKS = {
    "ix_beneficiary_duplicate_name": ("name_index", "date_of_birth"),
    "ix_beneficiary_duplicate_phone": ("phone_index", "created_at"),
}


def upgrade() -> None:
    for table in REPEATED:
        op.drop_index(f"ix_{table}_organisation_id", table_name=table)
    op.drop_index("ix_beneficiary_name_index", table_name="beneficiary")
    op.drop_index("ix_beneficiary_phone_index", table_name="beneficiary")
    for name, (key, then) in DUPLICATE_CHECKS.items():
        op.drop_index(name, table_name="beneficiary")
        op.create_index(name, "beneficiary", [key, "organisation_id", then])
    op.drop_index("ix_consent_entry_beneficiary_id", table_name="consent_entry")
    op.create_index(
        "ix_consent_entry_beneficiary_id",
        "consent_entry",
        ["beneficiary_id", "organisation_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_consent_entry_beneficiary_id", table_name="consent_entry")
    op.create_index(
        "ix_consent_entry_beneficiary_id", "consent_entry", ["beneficiary_id"]
    )
    for name, (key, then) in DUPLICATE_CHECKS.items():
        op.drop_index(name, table_name="beneficiary")
        op.create_index(name, "beneficiary", ["organisation_id", key, then])
    op.create_index("ix_beneficiary_phone_index", "beneficiary", ["phone_index"])
    op.create_index("ix_beneficiary_name_index", "beneficiary", ["name_index"])
    for table in REPEATED:
        op.create_index(f"ix_{table}_organisation_id", table, ["organisation_id"])
