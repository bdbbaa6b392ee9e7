"""Tables of structured interventions: a person's enrolment and each protocol
session they attended, tied to the service record that counts it, so a session
is never counted twice.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from services.beneficiary.db import Table, organisation_key, same_organisation
from shared.contracts.enums import EnrolmentStatus
from shared.db import UTCDateTime, utcnow


class Enrolment(Table, table=True):
    """A person's course through a structured intervention."""

    __tablename__ = "enrolment"
    __table_args__ = (
        organisation_key(),
        same_organisation("beneficiary_id", "beneficiary"),
        same_organisation("case_id", "case_file"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(primary_key=True, index=True)
    beneficiary_id: uuid.UUID = Field(index=True)
    case_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    intervention: str = Field(max_length=64, description="code@version")
    enrolled_on: date
    status: EnrolmentStatus = EnrolmentStatus.enrolled
    status_on: date
    problem_area: str | None = Field(
        default=None, max_length=32, description="IPT's problem area (a code)."
    )
    version: int = 1
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SessionAttendance(Table, table=True):
    """One protocol session attended, tied to the service record that counts
    it, so the session is counted once in every figure."""

    __tablename__ = "session_attendance"
    __table_args__ = (
        UniqueConstraint(
            "enrolment_id",
            "session_number",
            "organisation_id",
            name="uq_session_attendance_session",
        ),
        UniqueConstraint(
            "service_record_id",
            "organisation_id",
            name="uq_session_attendance_record",
        ),
        same_organisation("enrolment_id", "enrolment"),
        same_organisation("service_record_id", "service_record"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID
    enrolment_id: uuid.UUID = Field(index=True)
    session_number: int
    attended_on: date
    service_record_id: uuid.UUID
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
