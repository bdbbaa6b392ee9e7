"""One anonymous response to a feedback form, given after one group activity
or one service record of the same organisation. It names no person: the
record's delivery columns are copied so reports need nothing else.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint
from sqlmodel import Field

from services.beneficiary.db import Table, organisation_key, same_organisation
from shared.db import UTCDateTime, utcnow


class FeedbackResponse(Table, table=True):
    """Answers to one form after one session or service, by nobody named."""

    __tablename__ = "feedback_response"
    __table_args__ = (
        organisation_key(),
        same_organisation("group_activity_id", "group_activity"),
        same_organisation("service_record_id", "service_record"),
        CheckConstraint(
            "(group_activity_id IS NULL) <> (service_record_id IS NULL)",
            name="one_record",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", primary_key=True, index=True
    )
    form: str = Field(max_length=80, description="code@version")
    answers: dict[str, int | bool] = Field(sa_type=JSON)
    group_activity_id: uuid.UUID | None = Field(default=None, index=True)
    service_record_id: uuid.UUID | None = Field(default=None, index=True)
    answered_on: date = Field(description="The date of its record.")
    lead_organisation_id: uuid.UUID = Field(foreign_key="organisation.id")
    activity_code: str = Field(max_length=64)
    site_id: uuid.UUID | None = Field(default=None, foreign_key="location.id")
    team_id: uuid.UUID | None = Field(default=None, foreign_key="team.id")
    project_id: uuid.UUID | None = Field(default=None, foreign_key="project.id")
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
