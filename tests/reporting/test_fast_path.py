"""The queue's fast path, and what happens when it fails: a worker killed
with SIGKILL mid-batch and Redis flushed. The feed pull heals it and every
indicator equals what the producers' own tables say."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.outbox.jobs import publish_outbox as publish_beneficiary
from services.reporting.settings import ReportingSettings
from services.reporting.worker import make_worker
from shared.auth import Role
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller
from tests.reporting.helpers import by_value, values

ROOT = Path(__file__).resolve().parents[2]


async def _head(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        found = await conn.execute(text("SELECT last_position FROM outbox_counter"))
        return int(found.scalar_one())


async def _cursor(reporting_app: FastAPI) -> int:
    async with reporting_app.state.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT position FROM feed_cursor WHERE source = 'beneficiary'")
        )
        return int(found.scalar() or 0)


async def test_events_arrive_through_the_queue_without_a_pull(
    alice: Caller,
    issue: Any,
    orgs: Any,
    beneficiary_app: FastAPI,
    beneficiary_engine: AsyncEngine,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
) -> None:
    reader = issue(orgs["a"], Role.me_officer)
    person = await make_beneficiary(alice, sex="female")
    written = time.monotonic()
    await record_service(alice, person["id"])
    await publish_beneficiary(
        {"runtime": beneficiary_app.state.runtime}
    )  # sends to the queue
    worker = make_worker(reporting_app.state.runtime, burst=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    found = await values(reporting_client, reader, "people_reached", by="sex")
    freshness = time.monotonic() - written
    assert by_value(found) == {"female": 1}
    assert await _cursor(reporting_app) == await _head(beneficiary_engine)
    print(f"fast path: write to indicator in {freshness:.3f} s")  # noqa: T201


def _start_worker(settings: ReportingSettings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REPORTING_DATABASE_URL": str(settings.database_url),
        "REPORTING_REDIS_URL": str(settings.redis_url),
        "REPORTING_PULL_FEEDS": "false",  # the fast path alone
        "DATA_DIR": str(settings.data_dir),
    }
    with log.open("ab") as out:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "services.reporting", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.processes
async def test_a_killed_worker_and_a_flushed_redis_lose_nothing(
    alice: Caller,
    issue: Any,
    orgs: Any,
    beneficiary_app: FastAPI,
    beneficiary_engine: AsyncEngine,
    redis: Redis,
    reporting_app: FastAPI,
    reporting_settings: ReportingSettings,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    tmp_path: Path,
) -> None:
    log = tmp_path / "worker.log"
    people = [await make_beneficiary(alice, sex=s) for s in ("female", "male") * 10]
    worker = _start_worker(reporting_settings, log)
    stop = asyncio.Event()

    async def load() -> int:
        """Services recorded, and published to the queue, until told to stop."""
        recorded = 0
        while not stop.is_set():
            for _ in range(25):
                person = people[recorded % len(people)]
                day = f"2026-02-{1 + recorded % 27:02d}"
                await record_service(alice, person["id"], service_date=day)
                recorded += 1
            await publish_beneficiary({"runtime": beneficiary_app.state.runtime})
        return recorded

    loader = asyncio.create_task(load())
    try:
        deadline = time.monotonic() + 60
        while await _cursor(reporting_app) == 0:  # the worker is ingesting
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            await asyncio.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        behind = await _head(beneficiary_engine) - await _cursor(reporting_app)
        await redis.flushdb()  # whatever the queue held is gone
        await asyncio.sleep(0.5)  # more writes while no worker runs
        worker = _start_worker(reporting_settings, log)
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        try:
            recorded = await loader
        finally:  # never leave a worker behind to take later tests' jobs
            worker.kill()
            worker.wait(timeout=20)
    await catch_up()  # the repair path: the change feed from the cursor

    reader = issue(orgs["a"], Role.me_officer)
    async with beneficiary_engine.connect() as conn:
        services = (
            await conn.execute(
                text("SELECT count(*) FROM service_record WHERE NOT voided")
            )
        ).scalar_one()
        distinct = (
            await conn.execute(
                text(
                    "SELECT b.sex, count(DISTINCT s.beneficiary_id) "
                    "FROM service_record s "
                    "JOIN beneficiary b ON b.id = s.beneficiary_id "
                    "WHERE NOT s.voided GROUP BY b.sex"
                )
            )
        ).all()
    assert services == recorded
    delivered = await values(reporting_client, reader, "services_delivered")
    assert delivered["total"]["value"] == services
    reached = await values(reporting_client, reader, "people_reached", by="sex")
    assert by_value(reached) == dict(distinct)
    by_day = await values(reporting_client, reader, "services_delivered", by="month")
    assert sum(by_value(by_day).values()) == services
    assert await _cursor(reporting_app) == await _head(beneficiary_engine)
    print(f"killed {behind} events behind the head; {recorded} services")  # noqa: T201
