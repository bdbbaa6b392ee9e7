"""The reporting app on its own fresh PostgreSQL database, pulling the
beneficiary and training apps' change feeds over HTTP (in-process ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text

from services.beneficiary.outbox.jobs import publish_outbox as publish_beneficiary
from services.reporting.app import create_app
from services.reporting.db import metadata
from services.reporting.ingest.jobs import pull_feeds
from services.reporting.settings import ReportingSettings
from services.training.outbox.jobs import publish_outbox as publish_training
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
from tests.training.conftest import (  # noqa: F401  (training side)
    clean_training_tables,
    training_app,
    training_client,
    training_settings,
)


@pytest.fixture(scope="session")
async def reporting_settings(data_dir: Path, redis: Redis) -> ReportingSettings:
    url = await recreate_database("mhpss_test_reporting")
    return ReportingSettings(
        database_url=url,
        redis_url=REDIS_URL,
        data_dir=data_dir,
        auto_migrate=True,
        beneficiary_url="http://beneficiary",
        training_url="http://training",
        suppression_threshold=5,
    )


@pytest.fixture(scope="session")
async def reporting_app(
    reporting_settings: ReportingSettings,
    app: FastAPI,  # noqa: F811
    training_app: FastAPI,  # noqa: F811
) -> AsyncIterator[FastAPI]:
    """Reporting, its HTTP client routed to the in-process producers."""
    application = create_app(reporting_settings)
    async with LifespanManager(application):
        runtime = application.state.runtime
        await runtime.http.aclose()
        runtime.http = make_client(
            mounts={
                "http://beneficiary": httpx.ASGITransport(app=app),
                "http://training": httpx.ASGITransport(app=training_app),
            }
        )
        yield application


@pytest.fixture(autouse=True)
async def clean_reporting_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "reporting_app" not in request.fixturenames:
        return
    reporting: FastAPI = request.getfixturevalue("reporting_app")
    tables = [t.name for t in metadata.sorted_tables]
    async with reporting.state.engine.begin() as connection:
        await truncate_filled(connection, tables)
        await connection.execute(
            text("INSERT INTO ingest_counter (id, seq) VALUES (1, 0)")
        )
    reporting.state.fact_store = None


@pytest.fixture
async def reporting_client(reporting_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=reporting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as c:
        yield c


@pytest.fixture
def catch_up(
    reporting_app: FastAPI,
    app: FastAPI,  # noqa: F811
    training_app: FastAPI,  # noqa: F811
) -> Callable[[], Awaitable[int]]:
    """Sequence the producers' outboxes and pull their feeds once (the
    repair path; the fast path needs a worker and is tested on its own)."""

    async def run() -> int:
        await publish_beneficiary({"runtime": app.state.runtime})
        await publish_training({"runtime": training_app.state.runtime})
        context: dict[str, Any] = {"runtime": reporting_app.state.runtime}
        return await pull_feeds(context)

    return run
