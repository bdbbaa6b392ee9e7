"""ids per organisation: a client-chosen training id is unique within its organisation

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 03:40:00.000000

Every table whose id a client may choose is keyed (organisation_id, id), and
every reference to such a row is a composite foreign key (<x>_id,
organisation_id) -> (id, organisation_id), so a child always belongs to its
parent's organisation. Tables that referred to one without an
organisation_id get it, filled from the parent. Courses stay global keys
(a shared catalogue every caller lists). Existing rows keep their ids
(docs/decisions/0006-ids-per-organisation.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLIENT_KEYED = [
    "trainee",
    "cohort",
    "competency_assessment",
    "supervision_session",
    "practice_group",
    "fidelity_review",
    "mentoring_plan",
    "mentoring_visit",
    "action_point",
]

NEW_ORGANISATION = [  # (child table, parent table, the column naming it), in order
    ("cohort_session", "cohort", "cohort_id"),
    ("cohort_enrolment", "cohort", "cohort_id"),
    ("attendance", "cohort_session", "session_id"),
    ("knowledge_test", "cohort", "cohort_id"),
    ("published_result", "cohort", "cohort_id"),
    ("practice_session", "practice_group", "group_id"),
]

REFERENCES = [  # (table, column, parent table)
    ("cohort_session", "cohort_id", "cohort"),
    ("cohort_enrolment", "cohort_id", "cohort"),
    ("cohort_enrolment", "trainee_id", "trainee"),
    ("attendance", "trainee_id", "trainee"),
    ("knowledge_test", "cohort_id", "cohort"),
    ("knowledge_test", "trainee_id", "trainee"),
    ("competency_assessment", "cohort_id", "cohort"),
    ("competency_assessment", "trainee_id", "trainee"),
    ("certification", "cohort_id", "cohort"),
    ("certification", "trainee_id", "trainee"),
    ("published_result", "cohort_id", "cohort"),
    ("published_result", "trainee_id", "trainee"),
    ("practice_group", "cohort_id", "cohort"),
    ("practice_session", "group_id", "practice_group"),
    ("mentoring_visit", "plan_id", "mentoring_plan"),
    ("action_point", "plan_id", "mentoring_plan"),
    ("action_point", "visit_id", "mentoring_visit"),
]

NEW_REFERENCES = [  # checked by code only until now
    ("mentoring_plan", "trainee_id", "trainee"),
]

UNIQUES = [  # (table, columns): organisation_id joins each
    ("cohort_session", ["cohort_id", "number"]),
    ("cohort_enrolment", ["cohort_id", "trainee_id"]),
    ("knowledge_test", ["cohort_id", "trainee_id", "kind"]),
    ("certification", ["cohort_id", "trainee_id"]),
    ("published_result", ["cohort_id", "trainee_id"]),
    ("practice_session", ["group_id", "number"]),
    ("practice_session", ["group_session_id"]),  # another organisation's may match
]


def _fk(table: str, column: str, parent: str) -> str:
    return f"fk_{table}_{column}_{parent}"


def _uq(table: str, columns: list[str]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"


def _tables() -> list[str]:
    """Every table touched, each altered once per step (SQLite copies it)."""
    touched = {t for t, _, _ in REFERENCES + NEW_REFERENCES} | set(CLIENT_KEYED)
    return sorted(touched | {t for t, _, _ in NEW_ORGANISATION})


def upgrade() -> None:
    new = [t for t, _, _ in NEW_ORGANISATION]
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, parent in REFERENCES:
                if name == table:
                    batch_op.drop_constraint(
                        _fk(table, column, parent), type_="foreignkey"
                    )
            for name, columns in UNIQUES:
                if name == table:
                    batch_op.drop_constraint(_uq(table, columns), type_="unique")
            if table in new:
                batch_op.add_column(
                    sa.Column("organisation_id", sa.Uuid(), nullable=True)
                )
    for table, parent, column in NEW_ORGANISATION:
        op.execute(
            f"UPDATE {table} SET organisation_id = (SELECT {parent}.organisation_id "
            f"FROM {parent} WHERE {parent}.id = {table}.{column})"
        )
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in new:
                batch_op.alter_column(
                    "organisation_id", existing_type=sa.Uuid(), nullable=False
                )
            if table in CLIENT_KEYED:
                batch_op.drop_constraint(f"pk_{table}", type_="primary")
                batch_op.create_primary_key(f"pk_{table}", ["organisation_id", "id"])
            for name, columns in UNIQUES:
                if name == table:
                    batch_op.create_unique_constraint(
                        _uq(table, [*columns, "organisation_id"]),
                        [*columns, "organisation_id"],
                    )
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, parent in REFERENCES + NEW_REFERENCES:
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
    new = [t for t, _, _ in NEW_ORGANISATION]
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, parent in REFERENCES + NEW_REFERENCES:
                if name == table:
                    batch_op.drop_constraint(
                        _fk(table, column, parent), type_="foreignkey"
                    )
            for name, columns in UNIQUES:
                if name == table:
                    batch_op.drop_constraint(
                        _uq(table, [*columns, "organisation_id"]), type_="unique"
                    )
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in CLIENT_KEYED:
                batch_op.drop_constraint(f"pk_{table}", type_="primary")
                batch_op.create_primary_key(f"pk_{table}", ["id"])
            for name, columns in UNIQUES:
                if name == table:
                    batch_op.create_unique_constraint(_uq(table, columns), columns)
            if table in new:
                batch_op.drop_column("organisation_id")
    for table in _tables():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, parent in REFERENCES:
                if name == table:
                    batch_op.create_foreign_key(
                        _fk(table, column, parent), parent, [column], ["id"]
                    )
