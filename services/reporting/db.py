"""The reporting service's own table base (its read model: facts, never PII)."""

from __future__ import annotations

from sqlalchemy import UniqueConstraint
from sqlmodel import SQLModel

from shared.db import make_registry
from shared.idempotency import IdempotencyRecordBase

table_registry = make_registry()


class Table(SQLModel, registry=table_registry):
    """Base of every table of this service (its own metadata)."""


metadata = Table.metadata


class IdempotencyRecord(IdempotencyRecordBase, Table, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("organisation_id", "subject", "key"),)
