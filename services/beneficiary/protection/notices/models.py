"""Tables of notices to the data protection focal point."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field

from services.beneficiary.db import Table
from shared.db import UTCDateTime, utcnow


class NoticeDelivery(StrEnum):
    """Whether a notice reached its channel."""

    pending = "pending"
    delivered = "delivered"
    dead_letter = "dead_letter"
    not_configured = "not_configured"


class ProtectionNotice(Table, table=True):
    """A notice to the organisation's data protection focal point (a
    break-the-glass access, an export under a sharing agreement ...),
    delivered by webhook with retries; no PII in it."""

    __tablename__ = "protection_notice"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    kind: str = Field(max_length=64)
    subject: str = Field(max_length=255)
    entity_id: uuid.UUID
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivery: NoticeDelivery = NoticeDelivery.pending
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
