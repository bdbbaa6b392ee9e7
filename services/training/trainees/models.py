"""The ``trainee`` table. Name, phone and email are encrypted; erasure empties
them and keeps the training facts under the same id.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field

from services.training.db import Table
from shared.contracts.enums import Sex, TrainingAudience
from shared.db import UTCDateTime, organisation_key, utcnow


class Trainee(Table, table=True):
    """A person trained by the programme; contact details are encrypted."""

    __tablename__ = "trainee"
    __table_args__ = (organisation_key(),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        primary_key=True, index=True, description="Who registered them."
    )
    audience: TrainingAudience
    affiliation: str = Field(max_length=200, description="Their employer or body.")
    affiliation_organisation_id: uuid.UUID | None = Field(
        default=None,
        description="Their employer as an organisation of the platform's list "
        "(what reports count organisations trained by), when it is on it.",
    )
    role: str = Field(max_length=100)
    profession: str = Field(max_length=100)
    sex: Sex
    staff_id: str | None = Field(
        default=None,
        max_length=100,
        description="Their staff code at the beneficiary service (service "
        "records' staff_id), when they deliver services.",
    )
    full_name_enc: str | None = Field(
        default=None, sa_type=Text, description="None once erased."
    )
    phone_enc: str | None = Field(default=None, sa_type=Text)
    email_enc: str | None = Field(default=None, sa_type=Text)
    version: int = 1
    pii_erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
