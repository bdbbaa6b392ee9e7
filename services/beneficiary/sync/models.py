"""The ``sync_conflict`` table: an offline edit that lost to a newer server
version, kept encrypted (it holds PII) until a supervisor keeps the server's
version or applies the device's. The same edit sent again finds its row rather
than adding one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field

from services.beneficiary.db import Table
from shared.db import UTCDateTime, utcnow


class ConflictStatus(StrEnum):
    """Whether a conflict still waits for a decision."""

    open = "open"
    resolved = "resolved"


class ConflictResolution(StrEnum):
    """Which version a supervisor kept."""

    keep_server = "keep_server"
    apply_client = "apply_client"


class SyncConflict(Table, table=True):
    """An offline edit that lost to a newer server version. The client's
    version is kept (encrypted: it holds PII) until a supervisor resolves it."""

    __tablename__ = "sync_conflict"
    __table_args__ = (
        UniqueConstraint(
            "entity_id",
            "base_version",
            "payload_digest",
            "organisation_id",
            name="uq_sync_conflict_submission",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    entity_type: str = Field(max_length=32)
    entity_id: uuid.UUID = Field(index=True)
    device_id: str | None = Field(default=None, max_length=100)
    submitted_by: str = Field(max_length=255)
    base_version: int
    server_version: int
    payload_enc: str = Field(sa_type=Text)
    payload_digest: str = Field(max_length=64)
    status: ConflictStatus = Field(default=ConflictStatus.open, index=True)
    resolution: ConflictResolution | None = None
    resolved_by: str | None = Field(default=None, max_length=255)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
