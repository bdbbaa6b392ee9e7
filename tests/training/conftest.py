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
from shared.http import make_client
from tests.beneficiary.conftest import (  # noqa: F401  (beneficiary side)
    alice,
    app,
    bob,
    clean_tables,
    client,
    engine,
    issue,
    orgs,
    settings,
    signing_key,
    site_ids,
)
from tests.conftest import REDIS_URL, recreate_database, truncate_filled


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
    training: FastAPI = request.getfixturevalue("training_app")
    tables = [t.name for t in metadata.sorted_tables]
    async with training.state.engine.begin() as connection:
        await truncate_filled(connection, tables)
        await connection.execute(
            text("INSERT INTO outbox_counter (id, last_position) VALUES (1, 0)")
        )


@pytest.fixture
async def training_client(training_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=training_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def linked_training(
    training_app: FastAPI,
    app: FastAPI,  # noqa: F811  (the beneficiary app fixture)
) -> AsyncIterator[FastAPI]:
    """The training app calling the (in-process) beneficiary app over HTTP."""
    runtime = training_app.state.runtime
    saved = runtime.http, runtime.settings.beneficiary_url
    runtime.http = make_client(
        service="training",
        mounts={"http://beneficiary": httpx.ASGITransport(app=app)},
    )
    runtime.settings.beneficiary_url = "http://beneficiary"
    try:
        yield training_app
    finally:
        await runtime.http.aclose()
        runtime.http, runtime.settings.beneficiary_url = saved
