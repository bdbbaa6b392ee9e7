"""Training by course, approach, level, modality, place, topic and the
participants' own organisations

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 21:50:00.000000

``attendance`` events now carry the course and how, where and on which
topic the session was given; ``trainee`` events the organisation the
trainee works for; results already carried their course. Rows folded
before have none of them (``unknown``) until their entity's next event.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ATTENDANCE: dict[str, int | None] = {
    "course_id": None,
    "course_approach": 32,
    "course_level": 16,
    "modality": 16,
    "site_id": None,
    "topic_code": 64,
    "partner_organisation_id": None,
}
"""New attendance columns: text of that length, or a UUID (None)."""


def _column(name: str, length: int | None) -> sa.Column[object]:
    kind = sa.Uuid() if length is None else sqlmodel.sql.sqltypes.AutoString(length)
    return sa.Column(name, kind)


def upgrade() -> None:
    for name, length in _ATTENDANCE.items():
        op.add_column("attendance_fact", _column(name, length))
    op.add_column("trainee_fact", sa.Column("affiliation_organisation_id", sa.Uuid()))
    op.add_column("result_fact", sa.Column("course_id", sa.Uuid()))


def downgrade() -> None:
    with op.batch_alter_table("result_fact") as batch:
        batch.drop_column("course_id")
    with op.batch_alter_table("trainee_fact") as batch:
        batch.drop_column("affiliation_organisation_id")
    with op.batch_alter_table("attendance_fact") as batch:
        for name in _ATTENDANCE:
            batch.drop_column(name)
