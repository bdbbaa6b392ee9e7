"""Tables of retention policies and runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field

from services.beneficiary.db import Table
from shared.db import UTCDateTime, utcnow


class RetentionAction(StrEnum):
    """What happens to a record when its retention period ends."""

    pseudonymise = "pseudonymise"  # PII erased, non-identifying facts kept
    keep = "keep"  # kept without limit (e.g. anonymous counts)


class RetentionPolicy(Table, table=True):
    """How long one organisation keeps one kind of record, and what happens
    after (an organisation's row beats the platform default, which has no
    organisation)."""

    __tablename__ = "retention_policy"
    __table_args__ = (UniqueConstraint("organisation_id", "record_type"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID | None = Field(default=None, index=True)
    record_type: str = Field(max_length=64)
    keep_days: int | None = Field(default=None, ge=0, description="None: forever.")
    action: RetentionAction = RetentionAction.pseudonymise
    updated_by: str = Field(max_length=255)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


class RetentionRun(Table, table=True):
    """One application (or dry run) of the retention policies: what was, or
    would be, affected."""

    __tablename__ = "retention_run"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID | None = Field(default=None, index=True)
    dry_run: bool
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    started_by: str = Field(max_length=255)
    affected: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=JSON,
        description="record type -> {count, ids}: pseudonymous ids only.",
    )
