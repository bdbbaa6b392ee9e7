"""The training service's own table base and infrastructure tables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends
from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.audit import AuditEntryBase, AuditLog
from shared.db import UTCDateTime, make_registry, utcnow
from shared.idempotency import IdempotencyRecordBase, Once, once_for
from shared.outbox import OutboxCounterBase, OutboxEventBase

table_registry = make_registry()


class Table(SQLModel, registry=table_registry):
    """Base of every table of this service (its own metadata)."""


metadata = Table.metadata


class OutboxEvent(OutboxEventBase, Table, table=True):
    __tablename__ = "outbox_event"


class OutboxCounter(OutboxCounterBase, Table, table=True):
    __tablename__ = "outbox_counter"


class IdempotencyRecord(IdempotencyRecordBase, Table, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("organisation_id", "subject", "key"),)


class AuditEntry(AuditEntryBase, Table, table=True):
    __tablename__ = "audit_entry"


audit_log = AuditLog(AuditEntry)
"""The one way this service's routes write ``audit_entry`` rows."""


class FeedCursor(Table, table=True):
    """How far another service's change feed has been read (the beneficiary
    service's erasures: ``beneficiary.erased``)."""

    __tablename__ = "feed_cursor"

    source: str = Field(primary_key=True, max_length=32)
    position: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


OnceDep = Annotated[Once, Depends(once_for(IdempotencyRecord))]
"""A write handler's Idempotency-Key (``shared.idempotency.Once``)."""
