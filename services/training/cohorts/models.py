"""Tables of training events: the cohort, its numbered sessions, enrolments and
one attendance row per trainee and session, from which hours and attendance
shares are worked out.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field

from services.training.db import Table
from shared.contracts.enums import TrainingModality
from shared.db import UTCDateTime, organisation_key, same_organisation, utcnow


class Cohort(Table, table=True):
    """A training event: one run of a course for a group of trainees."""

    __tablename__ = "cohort"
    __table_args__ = (organisation_key(),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        primary_key=True, index=True, description="The organiser."
    )
    partner_organisation_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = Field(
        default=None,
        index=True,
        description="The beneficiary service's project it is trained under, "
        "carried as an opaque id (docs/decisions/0012-projects-teams-"
        "partnerships.md).",
    )
    course_id: uuid.UUID = Field(
        foreign_key="course.id",
        index=True,
        description="A course of the shared catalogue, which may be another "
        "organisation's (course ids are global: every caller lists them).",
    )
    title: str = Field(max_length=200)
    starts_on: date
    ends_on: date
    modality: TrainingModality
    location: str | None = Field(default=None, max_length=200)
    site_id: uuid.UUID | None = Field(
        default=None,
        description="Where it was held: a site of the beneficiary service's "
        "location list (reports roll it up to district and governorate).",
    )
    facilitator_trainee_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CohortSession(Table, table=True):
    __tablename__ = "cohort_session"
    __table_args__ = (
        UniqueConstraint("cohort_id", "number", "organisation_id"),
        same_organisation("cohort_id", "cohort"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID
    cohort_id: uuid.UUID = Field(index=True)
    number: int
    held_on: date
    hours: float
    topic: str | None = Field(default=None, max_length=200)
    topic_code: str | None = Field(
        default=None,
        max_length=64,
        description="The topic as a code reports can count by (``topic`` is "
        "free text and stays here).",
    )
    attendance_version: int = Field(
        default=0,
        description="Bumped by each attendance write that changes something; "
        "0: none recorded yet. The attendance's ETag.",
    )


class CohortEnrolment(Table, table=True):
    __tablename__ = "cohort_enrolment"
    __table_args__ = (
        UniqueConstraint("cohort_id", "trainee_id", "organisation_id"),
        same_organisation("cohort_id", "cohort"),
        same_organisation("trainee_id", "trainee"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID
    cohort_id: uuid.UUID = Field(index=True)
    trainee_id: uuid.UUID = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Attendance(Table, table=True):
    """Whether an enrolled trainee attended one session."""

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("session_id", "trainee_id"),
        same_organisation("trainee_id", "trainee"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID
    session_id: uuid.UUID = Field(foreign_key="cohort_session.id", index=True)
    trainee_id: uuid.UUID = Field(index=True)
    present: bool
