"""Reporting migration 0031 on a database with data: the ingestion counter
keeps its ``seq`` and starts with no erasure on record (no snapshot existed
that one could predate), and snapshots can be recorded."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.migrations.runner import MIGRATIONS
from shared.db import make_engine
from tests.databases import recreate_database


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_the_counter_keeps_its_seq_through_0031(
    backend: str, tmp_path: Path
) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    else:
        url = await recreate_database("mhpss_test_reporting_migrations")
    engine: AsyncEngine = make_engine(url)
    try:
        await MIGRATIONS.upgrade_schema(engine, "0030")
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM ingest_counter"))
            await connection.execute(
                text("INSERT INTO ingest_counter (id, seq) VALUES (1, 41)")
            )
        await MIGRATIONS.upgrade_schema(engine, "0031")
        async with engine.begin() as connection:
            counter = (
                await connection.execute(
                    text("SELECT seq, erased_seq FROM ingest_counter")
                )
            ).all()
            assert [tuple(row) for row in counter] == [(41, 0)]
            await connection.execute(
                text(
                    "INSERT INTO store_snapshot (mark, seq, written_at) "
                    "VALUES (:mark, 41, CURRENT_TIMESTAMP)"
                ),
                {"mark": uuid.uuid4().hex if backend == "sqlite" else uuid.uuid4()},
            )
    finally:
        await engine.dispose()
