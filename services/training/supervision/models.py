"""The ``supervision_session`` table. Notes are free text about people, so they
are stored encrypted and erased with the trainee; events carry only the counts.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Text
from sqlmodel import Field

from services.training.db import Table
from shared.db import UTCDateTime, organisation_key, utcnow


class SupervisionSession(Table, table=True):
    """Clinical supervision of trainees: individual or group, any mode."""

    __tablename__ = "supervision_session"
    __table_args__ = (organisation_key(),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(primary_key=True, index=True)
    supervisor: str = Field(max_length=255)
    kind: str = Field(max_length=16)
    purpose: str = Field(
        default="supervision",
        max_length=16,
        sa_column_kwargs={"server_default": "supervision"},
        description="supervision, coaching or mentoring",
    )
    mode: str = Field(max_length=16)
    held_on: date = Field(index=True)
    duration_minutes: int
    supervisee_trainee_ids: list[str] = Field(sa_type=JSON)
    cases_discussed: int = 0
    notes_enc: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
