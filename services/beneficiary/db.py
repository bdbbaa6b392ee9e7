"""The beneficiary service's own table base and shared infrastructure tables."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import (
    ColumnElement,
    ForeignKeyConstraint,
    PrimaryKeyConstraint,
    UniqueConstraint,
    and_,
)
from sqlmodel import SQLModel

from shared.db import make_registry
from shared.idempotency import IdempotencyRecordBase, Once, once_for
from shared.outbox import OutboxCounterBase, OutboxEventBase

table_registry = make_registry()


class Table(SQLModel, registry=table_registry):
    """Base of every table of this service (its own metadata)."""


metadata = Table.metadata


def organisation_key() -> PrimaryKeyConstraint:
    """The key of a table whose ids clients may choose: an id is unique
    within its organisation only, so one taken elsewhere is simply free here
    and reveals nothing (docs/decisions/0006-ids-per-organisation.md)."""
    return PrimaryKeyConstraint("organisation_id", "id")


def same_organisation(column: str, table: str) -> ForeignKeyConstraint:
    """``column`` names a row of ``table`` of this row's own organisation:
    the database itself refuses a child under another organisation's parent."""
    return ForeignKeyConstraint(
        [column, "organisation_id"], [f"{table}.id", f"{table}.organisation_id"]
    )


def under(column: Any, parent: Any) -> ColumnElement[bool]:
    """Rows whose ``column`` (e.g. ``Case.beneficiary_id``) names ``parent``:
    an id alone may name a row in each organisation, so the parent's
    organisation is always part of the match."""
    return and_(
        column.class_.organisation_id == parent.organisation_id,
        column == parent.id,
    )


class OutboxEvent(OutboxEventBase, Table, table=True):
    __tablename__ = "outbox_event"


class OutboxCounter(OutboxCounterBase, Table, table=True):
    __tablename__ = "outbox_counter"


class IdempotencyRecord(IdempotencyRecordBase, Table, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("organisation_id", "subject", "key"),)


OnceDep = Annotated[Once, Depends(once_for(IdempotencyRecord))]
"""A write handler's Idempotency-Key (``shared.idempotency.Once``)."""
