"""Tables of structured interventions: a person's enrolment and each protocol
session they attended, tied to the service record that counts it, so a session
is never counted twice.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from services.beneficiary.db import Table
from shared.contracts.enums import EnrolmentStatus
from shared.db import UTCDateTime, utcnow


class Enrolment(Table, table=True):
    """A person's course through a structured intervention."""

    __tablename__ = "enrolment"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    beneficiary_id: uuid.UUID = Field(foreign_key="beneficiary.id", index=True)
    case_id: uuid.UUID | None = Field(default=None, foreign_key="case_file.id")
    site_id: uuid.UUID | None = None
    intervention: str = Field(max_length=64, description="code@version")
    enrolled_on: date
    status: EnrolmentStatus = EnrolmentStatus.enrolled
    status_on: date
    version: int = 1
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SessionAttendance(Table, table=True):
    """One protocol session attended, tied to the service record that counts
    it, so the session is counted once in every figure."""

    __tablename__ = "session_attendance"
    __table_args__ = (UniqueConstraint("enrolment_id", "session_number"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    enrolment_id: uuid.UUID = Field(foreign_key="enrolment.id", index=True)
    session_number: int
    attended_on: date
    service_record_id: uuid.UUID = Field(foreign_key="service_record.id", unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
