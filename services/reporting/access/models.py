"""Integrator API keys: scoped to one organisation, its issuer's sites and
some indicators, revocable, stored as a hash (the key itself is shown once)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON
from sqlmodel import Field

from services.reporting.db import Table
from shared.db import UTCDateTime, utcnow


class ApiKey(Table, table=True):
    __tablename__ = "api_key"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    name: str = Field(max_length=200)
    secret_hash: str = Field(max_length=64, unique=True)
    indicators: list[str] | None = Field(
        default=None, sa_type=JSON, description="None: every indicator."
    )
    site_ids: list[str] | None = Field(
        default=None,
        sa_type=JSON,
        description="The issuer's site scope, which the key never exceeds; "
        "None: every site (an issuer with no site limit).",
    )
    rate_per_minute: int = 60
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
