"""Data-responsibility records: retention policies and what they did,
break-the-glass access grants and the notices they raise, data-sharing
agreements and every export made under them."""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field

from services.beneficiary.db import Table, same_organisation
from shared.db import UTCDateTime, utcnow


class RetentionAction(StrEnum):
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


class AccessGrant(Table, table=True):
    """Break-the-glass: one person's time-limited access to one beneficiary
    outside their site scope, with the reason they gave."""

    __tablename__ = "access_grant"
    __table_args__ = (same_organisation("beneficiary_id", "beneficiary"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    subject: str = Field(max_length=255, index=True)
    beneficiary_id: uuid.UUID = Field(index=True)
    reason: str = Field(max_length=500)
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NoticeDelivery(StrEnum):
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
