"""Training-service facts are unique per (organisation, producer id)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 04:00:00.000000

The training service's client-chosen ids (trainees, cohorts, assessments,
supervision sessions, mentoring visits and action points) are unique within
an organisation only (docs/decisions/0006-ids-per-organisation.md), so the
facts about them are too, as beneficiary facts are since 0004.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = [  # (table, the producer's columns)
    ("trainee_fact", ["trainee_id"]),
    ("attendance_fact", ["session_id", "trainee_id"]),
    ("capacity_fact", ["source_id", "trainee_id"]),
    ("result_fact", ["cohort_id", "trainee_id"]),
    ("competency_fact", ["assessment_id"]),
    ("supervision_fact", ["supervision_id"]),
    ("mentoring_visit_fact", ["visit_id"]),
    ("action_point_fact", ["action_point_id"]),
]


def _uq(table: str, columns: list[str]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"


def upgrade() -> None:
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
