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
from shared.db import UTCDateTime, utcnow


class PracticeGroup(Table, table=True):
    """A real client group run by trainees under supervision. Clients are the
    beneficiary service's pseudonymous ids: no personal data is copied."""

    __tablename__ = "practice_group"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    cohort_id: uuid.UUID | None = Field(default=None, foreign_key="cohort.id")
    name: str = Field(max_length=100)
    approach: str = Field(max_length=32)
    facilitator_trainee_ids: list[str] = Field(sa_type=JSON)
    client_ids: list[str] = Field(sa_type=JSON)
    started_on: date
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PracticeSession(Table, table=True):
    __tablename__ = "practice_session"
    __table_args__ = (UniqueConstraint("group_id", "number"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    group_id: uuid.UUID = Field(foreign_key="practice_group.id", index=True)
    number: int
    phase: str = Field(max_length=16)
    held_on: date
    attended_client_ids: list[str] = Field(sa_type=JSON)
    recording_ref: str | None = Field(default=None, max_length=500)
    recording_sha256: str | None = Field(default=None, max_length=64)
    group_session_id: uuid.UUID | None = Field(
        default=None,
        unique=True,
        description="The beneficiary service's group activity this session "
        "was recorded as (its attendance is there, counted once).",
    )


class FidelityReview(Table, table=True):
    """A recorded session reviewed against a model checklist."""

    __tablename__ = "fidelity_review"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    session_id: uuid.UUID = Field(foreign_key="practice_session.id", index=True)
    checklist: str = Field(max_length=64)
    reviewer: str = Field(max_length=255)
    reviewed_on: date
    ratings: dict[str, Any] = Field(sa_type=JSON)
    adherence_score: float
    feedback_enc: str | None = Field(default=None, sa_type=Text)
