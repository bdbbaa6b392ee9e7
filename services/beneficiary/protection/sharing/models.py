"""Tables of data-sharing agreements and their exports."""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime

from sqlalchemy import JSON
from sqlmodel import Field

from services.beneficiary.db import Table
from shared.db import UTCDateTime, utcnow


class SharingAgreement(Table, table=True):
    """What record-level data may go to a named partner, for what purpose,
    until when."""

    __tablename__ = "sharing_agreement"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    partner: str = Field(max_length=200)
    purpose: str = Field(max_length=500)
    fields: list[str] = Field(sa_type=JSON)
    valid_from: date
    expires_on: date
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    pseudonym_salt: str = Field(
        default_factory=lambda: secrets.token_hex(32),
        max_length=64,
        description="Keys this agreement's pseudonyms, so they stay stable "
        "through key rotation; never leaves the service.",
    )


class SharingExport(Table, table=True):
    """One export made under an agreement: who, when, how many records."""

    __tablename__ = "sharing_export"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    agreement_id: uuid.UUID = Field(foreign_key="sharing_agreement.id", index=True)
    organisation_id: uuid.UUID = Field(index=True)
    exported_by: str = Field(max_length=255)
    exported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    records: int
    fields: list[str] = Field(sa_type=JSON)
    reason: str | None = Field(default=None, max_length=500)
