"""One anonymous response of a trainee to a feedback form, given after one
session of a cohort or after the cohort as a whole. It names no trainee; the
cohort's course, site and project are copied for reports.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON
from sqlmodel import Field

from services.training.db import Table
from shared.db import UTCDateTime, organisation_key, same_organisation, utcnow


class TraineeFeedback(Table, table=True):
    """Answers to one form after one cohort (or one of its sessions)."""

    __tablename__ = "trainee_feedback"
    __table_args__ = (organisation_key(), same_organisation("cohort_id", "cohort"))

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        primary_key=True, index=True, description="The organiser's."
    )
    cohort_id: uuid.UUID = Field(index=True)
    session_number: int | None = Field(
        default=None, description="The session it follows; none: the cohort."
    )
    form: str = Field(max_length=80, description="code@version")
    answers: dict[str, int | bool] = Field(sa_type=JSON)
    answered_on: date = Field(description="The session's date, or the cohort's end.")
    course_id: uuid.UUID
    site_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
