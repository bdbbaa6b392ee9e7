"""Redis killed (everything it held is lost: queued jobs, in-progress keys)
and started again empty while people, services and trainees are written: the
APIs keep answering writes (an enqueue never fails a request), and no event
is lost: once the platform has caught up, reporting's indicators equal the
counts in the producers' tables (the outbox, the per-second publish and the
feed pull repair what Redis lost)."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.ops.checks import (
    Ledger,
    assert_feeds_have_no_gap,
    assert_indicators_equal_sql,
    make_org,
    new_trainee,
    register,
    service_record,
    wait_until_reporting_caught_up,
)
from tests.ops.harness import SERVICES, Platform

WRITERS = 4
OUTAGE_SECONDS = 3.0
SLOWEST_ALLOWED = 10.0


async def test_redis_lost_and_restarted_loses_no_event(platform: Platform) -> None:
    platform.migrate()
    for service in SERVICES:
        platform.start_api(service)
        platform.start_worker(service)
    await platform.wait_ready()
    ledger = Ledger()
    stop = asyncio.Event()
    beneficiary = platform.api_url("beneficiary")
    training = platform.api_url("training")

    async with httpx.AsyncClient(timeout=60) as client:
        org = await make_org(platform, client)

        async def writer(n: int) -> None:
            i = 0
            while not stop.is_set():
                person = await register(ledger, client, beneficiary, org)
                if person is not None and person.status_code == 201:
                    await ledger.send(
                        "service_record",
                        client,
                        "POST",
                        f"{beneficiary}/v1/service-records",
                        json=service_record(person.json()["id"], n + i),
                        headers=org.case_worker,
                    )
                await new_trainee(ledger, client, training, org, i)
                i += 1

        load = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
        try:
            await asyncio.sleep(2.0)
            lost = await asyncio.to_thread(platform.redis.key_count)
            down_at = time.monotonic()
            await asyncio.to_thread(platform.redis.kill)
            during = sum(ledger.statuses.values())
            await asyncio.sleep(OUTAGE_SECONDS)
            during = sum(ledger.statuses.values()) - during
            await asyncio.to_thread(platform.redis.start)
            up_at = time.monotonic()
            await asyncio.sleep(3.0)
        finally:
            stop.set()
            await asyncio.gather(*load)

        assert ledger.transport_errors == []
        assert {status for _, status in ledger.statuses} == {201}, ledger.statuses
        assert during > 0, "writes were answered while Redis was down"
        assert ledger.slowest < SLOWEST_ALLOWED
        caught_up = await wait_until_reporting_caught_up(platform, seconds=90)
        feeds = await assert_feeds_have_no_gap(platform, client, org)
        counts = await assert_indicators_equal_sql(platform, client, org)
    exited = platform.alive()
    print(  # noqa: T201
        f"redis restart: {lost} keys lost with Redis (queued jobs among them); "
        f"{sum(ledger.statuses.values())} writes all 201, "
        f"{during} while Redis was down {up_at - down_at:.1f} s, slowest "
        f"{ledger.slowest:.2f} s; caught up {caught_up:.1f} s after the load; "
        f"feeds {feeds}; {counts}; processes exited: {exited}"
    )
    assert exited == []
