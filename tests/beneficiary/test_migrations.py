from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.db import metadata
from services.beneficiary.migrations.runner import MIGRATIONS
from shared.db import make_engine
from tests.beneficiary.conftest import Caller, make_beneficiary
from tests.conftest import recreate_database


async def test_empty_postgres_upgrades_to_head_and_back() -> None:
    url = await recreate_database("mhpss_test_migrations")
    engine = make_engine(url)
    try:
        await MIGRATIONS.upgrade(engine)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            governorates = (
                await conn.execute(
                    text("SELECT count(*) FROM location WHERE level = 'governorate'")
                )
            ).scalar_one()
        assert set(metadata.tables) <= tables
        assert governorates == 18
        await MIGRATIONS.upgrade(engine)  # idempotent, reference data not doubled

        await MIGRATIONS.downgrade_to_base(engine)
        async with engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert left <= {"alembic_version"}
        await MIGRATIONS.upgrade(engine)
    finally:
        await engine.dispose()


async def test_schema_matches_the_models(engine: AsyncEngine) -> None:
    """No model change without a migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_the_audit_log_is_append_only(alice: Caller, engine: AsyncEngine) -> None:
    await make_beneficiary(alice)
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("UPDATE audit_entry SET subject = 'someone else'"))
        await conn.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("DELETE FROM audit_entry"))
