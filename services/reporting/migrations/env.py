"""Alembic environment: always handed a connection by ``shared/migrations.py``."""

from __future__ import annotations

from alembic import context

from services.reporting import models  # noqa: F401  (registers every table)
from services.reporting.db import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Run migrations with `python -m services.reporting migrate`, "
        "which hands Alembic a connection."
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
