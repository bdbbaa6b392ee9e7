"""The ``location`` table: one tree of governorates, districts and sites, a
name unique under its parent. It has no organisation column: every organisation
uses the same places.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field

from services.beneficiary.db import Table
from shared.contracts.enums import LocationLevel, SiteType
from shared.db import UTCDateTime, utcnow


class Location(Table, table=True):
    """A governorate, district or site (camp, PHC, community centre ...)."""

    __tablename__ = "location"
    __table_args__ = (UniqueConstraint("parent_id", "level", "name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    pcode: str | None = Field(default=None, max_length=32, unique=True)
    name: str = Field(max_length=200)
    """In English: the name reports and exchange formats use."""
    names: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    """Language (en, ar, ckb) -> name, from the P-code tables."""
    level: LocationLevel
    site_type: SiteType | None = None
    parent_id: uuid.UUID | None = Field(
        default=None, foreign_key="location.id", index=True
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LocationLoad(Table, table=True):
    """One load of a country's P-code tables: what it added and renamed, by
    whom, when (the answer a retried request gets again)."""

    __tablename__ = "location_load"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    country: str = Field(max_length=2)
    added: int
    renamed: int
    unchanged: int
    by_level: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    loaded_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
