"""The reporting service's own table base (its read model: facts, never PII)."""

from __future__ import annotations

from sqlmodel import SQLModel

from shared.db import make_registry

table_registry = make_registry()


class Table(SQLModel, registry=table_registry):
    """Base of every table of this service (its own metadata)."""


metadata = Table.metadata
