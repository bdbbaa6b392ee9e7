"""The ``project`` table, owned by the lead organisation."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field

from services.beneficiary.db import Table
from shared.db import UTCDateTime, utcnow


class Project(Table, table=True):
    """A funded project of a lead organisation. Its id is made by the server,
    unique across organisations, so partners' records, the training service
    and reporting all name it by id alone."""

    __tablename__ = "project"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", index=True, description="The lead."
    )
    name: str = Field(max_length=200)
    donor: str = Field(max_length=200)
    grant_code: str | None = Field(default=None, max_length=100)
    start: date
    end: date
    partner_organisation_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    location_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    targets: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    version: int = 1
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
