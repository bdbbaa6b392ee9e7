"""Exports written by a job to a file and fetched by id when ready."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field

from services.reporting.db import Table
from shared.db import UTCDateTime, utcnow


class Export(Table, table=True):
    __tablename__ = "export"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    requested_by: str = Field(max_length=255)
    api_key_id: uuid.UUID | None = None
    indicator: str = Field(max_length=64)
    format: str = Field(max_length=16)
    start: date
    end: date
    by: list[str] = Field(default_factory=list, sa_type=JSON)
    filters: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    monthly: bool = False
    suppressed: bool = True
    scope_sites: list[str] | None = Field(default=None, sa_type=JSON)
    age_bands: str | None = Field(
        default=None,
        max_length=200,
        description="The bands asked for, resolved (None: before migration "
        "0006, the deployment's default).",
    )
    lang: str | None = Field(
        default=None,
        max_length=8,
        description="The language of the labels and the About sheet (None: "
        "before migration 0013, English).",
    )
    status: str = Field(default="pending", max_length=16)
    rows: int | None = None
    error: str | None = Field(default=None, max_length=500)
    file_name: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
