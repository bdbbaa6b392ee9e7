"""Tables of supervised practice: client groups, their sessions and the
fidelity reviews of recorded sessions. Clients are stored as the beneficiary
service's pseudonymous ids, never as personal data.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field

from services.training.db import Table
from shared.db import UTCDateTime, organisation_key, same_organisation, utcnow


class PracticeGroup(Table, table=True):
    """A real client group run by trainees under supervision. Clients are the
    beneficiary service's pseudonymous ids: no personal data is copied."""

    __tablename__ = "practice_group"
    __table_args__ = (organisation_key(), same_organisation("cohort_id", "cohort"))

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(primary_key=True, index=True)
    cohort_id: uuid.UUID | None = None
    name: str = Field(max_length=100)
    approach: str = Field(max_length=32)
    facilitator_trainee_ids: list[str] = Field(sa_type=JSON)
    client_ids: list[str] = Field(sa_type=JSON)
    started_on: date
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PracticeSession(Table, table=True):
    __tablename__ = "practice_session"
    __table_args__ = (
        UniqueConstraint("group_id", "number", "organisation_id"),
        UniqueConstraint("group_session_id", "organisation_id"),
        same_organisation("group_id", "practice_group"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID
    group_id: uuid.UUID = Field(index=True)
    number: int
    phase: str = Field(max_length=16)
    held_on: date
    attended_client_ids: list[str] = Field(sa_type=JSON)
    recording_ref: str | None = Field(default=None, max_length=500)
    recording_sha256: str | None = Field(default=None, max_length=64)
    group_session_id: uuid.UUID | None = Field(
        default=None,
        description="The beneficiary service's group activity this session "
        "was recorded as (its attendance is there, counted once).",
    )


class FidelityReview(Table, table=True):
    """A recorded session reviewed against a model checklist."""

    __tablename__ = "fidelity_review"
    __table_args__ = (organisation_key(),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(primary_key=True, index=True)
    session_id: uuid.UUID = Field(foreign_key="practice_session.id", index=True)
    checklist: str = Field(max_length=64)
    reviewer: str = Field(max_length=255)
    reviewed_on: date
    ratings: dict[str, Any] = Field(sa_type=JSON)
    adherence_score: float
    feedback_enc: str | None = Field(default=None, sa_type=Text)
