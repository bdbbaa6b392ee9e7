"""The ``team`` table: a unit of one organisation, never of two."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from services.beneficiary.db import Table
from shared.contracts.enums import TeamKind
from shared.db import UTCDateTime, utcnow


class Team(Table, table=True):
    """A governorate team or a mobile team of one organisation. Its id is
    made by the server (teams are set up online, not on a device), so it is
    unique across organisations and reporting can key on it alone."""

    __tablename__ = "team"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=200)
    kind: TeamKind
    governorate_id: uuid.UUID | None = Field(default=None, foreign_key="location.id")
    active: bool = True
    version: int = 1
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
