"""The training service's foundation: its own database and migrations, the
outbox and change feed, auth and health, the same way as every service."""

from __future__ import annotations

import uuid

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.training.db import OutboxEvent, metadata
from services.training.migrations.runner import MIGRATIONS
from services.training.settings import TrainingSettings
from shared.auth import LocalSigningKey, Role
from shared.db import make_engine
from tests.databases import recreate_database


@pytest.mark.long
async def test_empty_postgres_upgrades_to_head_and_back() -> None:
    engine = make_engine(await recreate_database("mhpss_test_training_migrations"))
    try:
        await MIGRATIONS.upgrade(engine)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert set(metadata.tables) <= tables
        await MIGRATIONS.downgrade_to_base(engine)
        async with engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert left <= {"alembic_version"}
        await MIGRATIONS.upgrade(engine)
    finally:
        await engine.dispose()


async def test_schema_matches_the_models(training_app: FastAPI) -> None:
    engine: AsyncEngine = training_app.state.engine

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_change_feed_serves_committed_events_in_order(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    org = uuid.uuid4()
    async with AsyncSession(training_app.state.engine) as session, session.begin():
        for n in range(3):
            session.add(
                OutboxEvent(
                    type="test.event",
                    organisation_id=org,
                    entity_type="test",
                    entity_id=uuid.uuid4(),
                    data={"n": n},
                )
            )
    key = LocalSigningKey.load_or_create(training_settings.data_dir)
    token = key.issue(
        subject="reporting",
        organisation_id=org,
        roles=[Role.service],
        issuer=training_settings.auth_issuer,
        audience=training_settings.auth_audience,
    )
    r = await training_client.get(
        "/v1/events", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    events = r.json()["items"]
    assert [e["source"] for e in events] == ["training"] * 3
    positions = [e["position"] for e in events]
    assert positions == sorted(positions)
    assert (await training_client.get("/v1/events")).status_code == 401
    assert (await training_client.get("/readyz")).json()["checks"]["database"] == "ok"
