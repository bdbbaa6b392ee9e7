"""The ``course`` table. Completion and certification rules are stored with the
course (``criteria``, checked as ``CourseCriteria``), so each cohort is judged
by its own course's written rules.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field

from services.training.db import Table
from shared.contracts.enums import CourseApproach, CourseLevel
from shared.db import UTCDateTime, utcnow


class Course(Table, table=True):
    """A curriculum: a foundational course, a Training of Trainers or a refresher."""

    __tablename__ = "course"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True, description="Who maintains it.")
    title: str = Field(max_length=200)
    approach: CourseApproach
    level: CourseLevel
    planned_hours: float
    target_competencies: list[str] = Field(default_factory=list, sa_type=JSON)
    criteria: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=JSON,
        description="Completion and certification rules (CourseCriteria).",
    )
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
