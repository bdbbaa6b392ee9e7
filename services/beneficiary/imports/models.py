"""The import tables: a mapping (versioned per name), an import job with its
progress persisted per batch, and the rows it refused (row number, field,
reason; never a person's data).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field

from services.beneficiary.db import Table
from shared.db import UTCDateTime, utcnow


class ImportMapping(Table, table=True):
    """How one form's submissions become platform records. A new mapping of
    the same name is its next version; an import names the version it used."""

    __tablename__ = "import_mapping"
    __table_args__ = (UniqueConstraint("organisation_id", "name", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    name: str = Field(max_length=200)
    version: int
    spec: dict[str, Any] = Field(sa_type=JSON)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ImportStatus(StrEnum):
    """Where an import stands."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class SourceKind(StrEnum):
    """Where an import's rows come from."""

    csv = "csv"
    xlsx = "xlsx"
    kobo = "kobo"


class ImportJob(Table, table=True):
    """One import (or dry run). ``next_row`` moves with each committed batch,
    so a run stopped anywhere resumes where the last commit left it. The
    uploaded file and the Kobo token are kept encrypted until the job is
    done, then dropped."""

    __tablename__ = "import_job"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    mapping_id: uuid.UUID = Field(foreign_key="import_mapping.id")
    dry_run: bool
    status: ImportStatus = Field(default=ImportStatus.queued)
    source_kind: SourceKind
    source_name: str | None = Field(default=None, max_length=255)
    source_enc: str | None = Field(default=None, sa_type=Text)
    kobo_server: str | None = Field(default=None, max_length=255)
    kobo_asset_uid: str | None = Field(default=None, max_length=64)
    kobo_token_enc: str | None = Field(default=None, sa_type=Text)
    started_by: str = Field(max_length=255)
    roles: list[str] = Field(default_factory=list, sa_type=JSON)
    site_ids: list[str] | None = Field(default=None, sa_type=JSON)
    total: int | None = None
    next_row: int = 0
    refused: int = 0
    outcomes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ImportRefusal(Table, table=True):
    """A row refused (or that a dry run would refuse): where and why."""

    __tablename__ = "import_refusal"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID
    import_id: uuid.UUID = Field(foreign_key="import_job.id", index=True)
    row_number: int
    field: str = Field(max_length=255)
    reason: str = Field(max_length=1000)
