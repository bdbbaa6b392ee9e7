"""ids per organisation: a client-chosen id is unique within its organisation

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:40:00.000000

Every table whose id a client may choose is keyed (organisation_id, id), and
every reference to such a row is a composite foreign key (<x>_id,
organisation_id) -> (id, organisation_id), so a child always belongs to its
parent's organisation. Tables that referred to one without an
organisation_id get it, filled from the parent. Existing rows keep their
ids (docs/decisions/0006-ids-per-organisation.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLIENT_KEYED = [
    "beneficiary",
    "consent_entry",
    "case_file",
    "assessment",
    "follow_up",
    "group_activity",
    "service_record",
    "anonymous_service",
    "referral",
    "enrolment",
]

NEW_ORGANISATION = {  # child table: (parent table, the column naming it)
    "case_plan": ("case_file", "case_id"),
    "follow_up": ("case_file", "case_id"),
    "safety_plan": ("case_file", "case_id"),
    "session_attendance": ("enrolment", "enrolment_id"),
}

REFERENCES = [  # (table, column, parent table)
    ("duplicate_candidate", "beneficiary_id", "beneficiary"),
    ("duplicate_candidate", "candidate_id", "beneficiary"),
    ("consent_entry", "beneficiary_id", "beneficiary"),
    ("case_file", "beneficiary_id", "beneficiary"),
    ("assessment", "case_id", "case_file"),
    ("assessment", "beneficiary_id", "beneficiary"),
    ("case_plan", "case_id", "case_file"),
    ("follow_up", "case_id", "case_file"),
    ("follow_up", "service_record_id", "service_record"),
    ("safety_plan", "case_id", "case_file"),
    ("enrolment", "beneficiary_id", "beneficiary"),
    ("enrolment", "case_id", "case_file"),
    ("session_attendance", "enrolment_id", "enrolment"),
    ("session_attendance", "service_record_id", "service_record"),
    ("service_record", "beneficiary_id", "beneficiary"),
    ("service_record", "group_activity_id", "group_activity"),
    ("anonymous_service", "group_activity_id", "group_activity"),
    ("referral", "beneficiary_id", "beneficiary"),
    ("referral", "case_id", "case_file"),
    ("risk_alert", "case_id", "case_file"),
    ("risk_alert", "beneficiary_id", "beneficiary"),
    ("access_grant", "beneficiary_id", "beneficiary"),
]

UNIQUES = [  # (table, columns, the new name): organisation_id joins each
    ("duplicate_candidate", ["beneficiary_id", "candidate_id"], "pair"),
    ("session_attendance", ["enrolment_id", "session_number"], "session"),
    ("session_attendance", ["service_record_id"], "record"),
    ("sync_conflict", ["entity_id", "base_version", "payload_digest"], "submission"),
]


def _fk(table: str, column: str, parent: str) -> str:
    return f"fk_{table}_{column}_{parent}"


def _uq(table: str, columns: list[str]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"


def _tables() -> list[str]:
    """Every table touched, each altered once per step (SQLite copies it)."""
    touched = {t for t, _, _ in REFERENCES} | set(CLIENT_KEYED) | set(NEW_ORGANISATION)
    return sorted(touched | {t for t, _, _ in UNIQUES})


def upgrade() -> None:
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, parent in REFERENCES:
                if name == table:
                    batch_op.drop_constraint(
                        _fk(table, column, parent), type_="foreignkey"
                    )
            for name, columns, _ in UNIQUES:
                if name == table:
                    batch_op.drop_constraint(_uq(table, columns), type_="unique")
            if table in NEW_ORGANISATION:
                batch_op.add_column(
                    sa.Column("organisation_id", sa.Uuid(), nullable=True)
                )
    for table, (parent, column) in NEW_ORGANISATION.items():
        op.execute(
            f"UPDATE {table} SET organisation_id = (SELECT {parent}.organisation_id "
            f"FROM {parent} WHERE {parent}.id = {table}.{column})"
        )
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in NEW_ORGANISATION:
                batch_op.alter_column(
                    "organisation_id", existing_type=sa.Uuid(), nullable=False
                )
            if table in CLIENT_KEYED:
                batch_op.drop_constraint(f"pk_{table}", type_="primary")
                batch_op.create_primary_key(f"pk_{table}", ["organisation_id", "id"])
            for name, columns, short in UNIQUES:
                if name == table:
                    batch_op.create_unique_constraint(
                        f"uq_{table}_{short}", [*columns, "organisation_id"]
                    )
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, parent in REFERENCES:
                if name == table:
                    batch_op.create_foreign_key(
                        _fk(table, column, parent),
                        parent,
                        [column, "organisation_id"],
                        ["id", "organisation_id"],
                    )


def downgrade() -> None:
    """Back to global ids: fails (a duplicate key) once two organisations
    hold the same id, which only this revision allows."""
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, parent in REFERENCES:
                if name == table:
                    batch_op.drop_constraint(
                        _fk(table, column, parent), type_="foreignkey"
                    )
            for name, _, short in UNIQUES:
                if name == table:
                    batch_op.drop_constraint(f"uq_{table}_{short}", type_="unique")
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in CLIENT_KEYED:
                batch_op.drop_constraint(f"pk_{table}", type_="primary")
                batch_op.create_primary_key(f"pk_{table}", ["id"])
            for name, columns, _ in UNIQUES:
                if name == table:
                    batch_op.create_unique_constraint(_uq(table, columns), columns)
            if table in NEW_ORGANISATION:
                batch_op.drop_column("organisation_id")
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, parent in REFERENCES:
                if name == table:
                    batch_op.create_foreign_key(
                        _fk(table, column, parent), parent, [column], ["id"]
                    )
