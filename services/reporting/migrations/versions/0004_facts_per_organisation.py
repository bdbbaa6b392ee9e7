"""Beneficiary-service facts are unique per (organisation, producer id)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 18:50:00.000000

The beneficiary service's ids are unique within an organisation only
(docs/decisions/0006-ids-per-organisation.md). A person known so far only
through a service (a placeholder, registration not ingested yet) takes the
organisation of the facts that link to them, so their registration lands
on the same row.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = [  # (table, the producer's columns)
    ("beneficiary_fact", ["beneficiary_id"]),
    ("service_fact", ["record_id", "line"]),
    ("referral_fact", ["referral_id"]),
    ("case_fact", ["case_id"]),
    ("assessment_fact", ["assessment_id"]),
]

LINKING = ["service_fact", "case_fact", "referral_fact", "assessment_fact"]


def _uq(table: str, columns: list[str]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"


def upgrade() -> None:
    linked = " ".join(
        f"WHEN EXISTS (SELECT 1 FROM {t} WHERE {t}.beneficiary_key = "
        f"beneficiary_fact.key) THEN (SELECT {t}.organisation_id FROM {t} "
        f"WHERE {t}.beneficiary_key = beneficiary_fact.key LIMIT 1)"
        for t in LINKING
    )
    op.execute(
        f"UPDATE beneficiary_fact SET organisation_id = CASE {linked} END "
        "WHERE organisation_id IS NULL AND NOT erased"
    )
    for table, columns in KEYS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(_uq(table, columns), type_="unique")
            batch.create_unique_constraint(
                _uq(table, ["organisation_id", *columns]),
                ["organisation_id", *columns],
            )


def downgrade() -> None:
    """Fails (a duplicate key) once two organisations' facts share an id."""
    for table, columns in KEYS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(
                _uq(table, ["organisation_id", *columns]), type_="unique"
            )
            batch.create_unique_constraint(_uq(table, columns), columns)
