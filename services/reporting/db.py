"""The reporting service's own table base (its read model: facts, never PII)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import UniqueConstraint
from sqlmodel import SQLModel

from shared.db import make_registry
from shared.idempotency import IdempotencyRecordBase, Once, once_for

table_registry = make_registry()


class Table(SQLModel, registry=table_registry):
    """Base of every table of this service (its own metadata)."""


metadata = Table.metadata


class IdempotencyRecord(IdempotencyRecordBase, Table, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("organisation_id", "subject", "key"),)


OnceDep = Annotated[Once, Depends(once_for(IdempotencyRecord))]
"""A write handler's Idempotency-Key (``shared.idempotency.Once``)."""
