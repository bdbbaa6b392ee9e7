"""The beneficiary service's own table base and shared infrastructure tables."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import UniqueConstraint
from sqlmodel import SQLModel

from shared.db import make_registry
from shared.db import organisation_key as organisation_key
from shared.db import same_organisation as same_organisation
from shared.db import under as under
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


OnceDep = Annotated[Once, Depends(once_for(IdempotencyRecord))]
"""A write handler's Idempotency-Key (``shared.idempotency.Once``)."""
