"""The ``partnership`` table: while one covers a partner's record (its date,
its site, its activity), the record counts under the lead."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON
from sqlmodel import Field

from services.beneficiary.db import Table
from shared.db import UTCDateTime, utcnow


class PartnershipOrigin(StrEnum):
    """Whether a partnership came from an agreement or a lead's approval."""

    agreement = "agreement"
    lead_approval = "lead_approval"
    """Made by ``POST /v1/organisations/{id}/lead-approval`` (or for an
    approval given before partnerships existed): open-ended, everywhere."""


class Partnership(Table, table=True):
    """An agreement between a lead and one of its partners. ``start`` and
    ``end`` are inclusive; None is open. Empty ``location_ids`` or
    ``activity_codes`` mean every place or every activity."""

    __tablename__ = "partnership"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    lead_organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    partner_organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", index=True
    )
    project_id: uuid.UUID | None = Field(default=None, foreign_key="project.id")
    start: date | None = None
    end: date | None = None
    location_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    activity_codes: list[str] = Field(default_factory=list, sa_type=JSON)
    origin: PartnershipOrigin = PartnershipOrigin.agreement
    version: int = 1
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
