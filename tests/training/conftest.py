"""The training app on its own fresh PostgreSQL database and real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text

from services.training.app import create_app
from services.training.db import metadata
from services.training.settings import TrainingSettings
from tests.conftest import REDIS_URL, recreate_database


@pytest.fixture(scope="session")
async def training_settings(data_dir: Path, redis: Redis) -> TrainingSettings:
    url = await recreate_database("mhpss_test_training")
    return TrainingSettings(
        database_url=url, redis_url=REDIS_URL, data_dir=data_dir, auto_migrate=True
    )


@pytest.fixture(scope="session")
async def training_app(training_settings: TrainingSettings) -> AsyncIterator[FastAPI]:
    application = create_app(training_settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture(autouse=True)
async def clean_training_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Each training test starts from empty tables (only where the app runs)."""
    yield
    if "training_app" not in request.fixturenames:
        return
    app: FastAPI = request.getfixturevalue("training_app")
    tables = [t.name for t in metadata.sorted_tables]
    async with app.state.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        await connection.execute(
            text("INSERT INTO outbox_counter (id, last_position) VALUES (1, 0)")
        )


@pytest.fixture
async def training_client(training_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=training_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
