"""Scale-out: two processes of each API and two arq workers of each service
on one PostgreSQL and one Redis serve a mixed concurrent load (registrations,
service records, sync batches, trainees and attendance, indicator reads),
spread round-robin over the two processes of each API. Afterwards: no 5xx or
transport error, every acknowledged write exists exactly once, each change
feed holds every position once with no gap, and reporting's indicators equal
counts computed in SQL on the producers' databases."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.ops.checks import (
    Ledger,
    Org,
    assert_feeds_have_no_gap,
    assert_indicators_equal_sql,
    fetch,
    make_org,
    new_trainee,
    register,
    service_record,
    sync_batch,
    wait_until_reporting_caught_up,
)
from tests.ops.harness import SERVICES, WORKER_SERVICES, Platform, log_lines

CLIENTS = 8
ROUNDS = 8


async def cohort(
    platform: Platform, client: httpx.AsyncClient, org: Org, index: int
) -> str:
    """A course and a cohort with one session, on one training process."""
    url = platform.api_url("training", index)
    course = await client.post(
        f"{url}/v1/courses",
        json={"title": "PFA", "approach": "pfa", "level": "foundational",
              "planned_hours": 6},
        headers=org.trainer,
    )  # fmt: skip
    assert course.status_code == 201, course.text
    found = await client.post(
        f"{url}/v1/cohorts",
        json={"course_id": course.json()["id"], "title": "PFA 2026",
              "starts_on": "2026-02-09", "ends_on": "2026-02-09",
              "modality": "in_person"},
        headers=org.trainer,
    )  # fmt: skip
    assert found.status_code == 201, found.text
    cohort_id: str = found.json()["id"]
    session = await client.post(
        f"{url}/v1/cohorts/{cohort_id}/sessions",
        json={"number": 1, "held_on": "2026-02-09", "hours": 6},
        headers=org.trainer,
    )
    assert session.status_code == 201, session.text
    return cohort_id


async def field_team(
    platform: Platform, client: httpx.AsyncClient, org: Org, ledger: Ledger, n: int
) -> None:
    """One client's share of the load, alternating between the processes."""
    cohort_id = await cohort(platform, client, org, n % 2)
    cohorts = [
        f"{platform.api_url('training', i)}/v1/cohorts/{cohort_id}" for i in (0, 1)
    ]
    indicators = [f"{platform.api_url('reporting', i)}/v1/indicators" for i in (0, 1)]
    trainees = []
    for i in range(ROUNDS):
        index = (n + i) % 2
        person = await register(
            ledger, client, platform.api_url("beneficiary", index), org,
            sex=("female", "male")[i % 2],
        )  # fmt: skip
        assert person is not None
        assert person.status_code == 201, person.text
        for day in range(2):
            await ledger.send(
                "service_record",
                client,
                "POST",
                f"{platform.api_url('beneficiary', 1 - index)}/v1/service-records",
                json=service_record(person.json()["id"], n + i + day),
                headers=org.case_worker,
            )
        t = await new_trainee(
            ledger, client, platform.api_url("training", index), org, i
        )
        assert t is not None
        assert t.status_code == 201, t.text
        trainees.append(t.json()["id"])
        await ledger.send(
            "enrolment",
            client,
            "POST",
            f"{cohorts[1 - index]}/enrolments",
            json={"trainee_ids": [t.json()["id"]]},
            headers=org.trainer,
        )
        await ledger.send(
            "indicator",
            client,
            "GET",
            f"{indicators[index]}/services_delivered/values",
            params={"start": "2026-01-01", "end": "2026-12-31", "by": "month"},
            headers=org.me_officer,
        )
    present = trainees[: ROUNDS - 1]  # one trainee missed the session
    await ledger.send(
        "attendance",
        client,
        "PUT",
        f"{cohorts[n % 2]}/sessions/1/attendance",
        json={"present": present},
        headers=org.trainer,
    )


async def test_two_of_everything_serve_a_mixed_load(platform: Platform) -> None:
    platform.migrate()
    for service in SERVICES:
        platform.start_api(service, 0)
        platform.start_api(service, 1)
    for service in WORKER_SERVICES:
        platform.start_worker(service)
        platform.start_worker(service)
    await platform.wait_ready()

    ledger = Ledger()
    async with httpx.AsyncClient(timeout=60) as client:
        org = await make_org(platform, client)
        batches = [sync_batch(people=25, records_each=2) for _ in range(2)]
        began = time.monotonic()
        await asyncio.gather(
            *(field_team(platform, client, org, ledger, n) for n in range(CLIENTS)),
            *(
                ledger.send(
                    "sync",
                    client,
                    "POST",
                    f"{platform.api_url('beneficiary', i)}/v1/sync",
                    json=batch,
                    headers=org.case_worker,
                )
                for i, batch in enumerate(batches)
            ),
        )
        load_seconds = time.monotonic() - began
        assert ledger.transport_errors == []
        assert ledger.server_errors() == {}
        assert set(ledger.statuses) == {
            ("beneficiary", 201),
            ("service_record", 201),
            ("trainee", 201),
            ("enrolment", 200),
            ("indicator", 200),
            ("attendance", 200),
            ("sync", 200),
        }, ledger.statuses

        await _assert_written_once(platform, ledger, batches)
        caught_up = await wait_until_reporting_caught_up(platform, seconds=60)
        feeds = await assert_feeds_have_no_gap(platform, client, org)
        counts = await assert_indicators_equal_sql(platform, client, org)
    assert platform.alive() == []
    # which of a service's two workers takes a job is a race (a coalesced
    # publish_outbox may always go to the same one): each service's workers
    # must have run jobs, not necessarily each worker
    busy = {
        p.name.rsplit("-", 1)[0]
        for p in platform.processes
        if "worker" in p.name
        and any("\u2192" in str(line.get("event")) for line in log_lines(p))
    }
    workers = {
        p.name.rsplit("-", 1)[0] for p in platform.processes if "worker" in p.name
    }
    assert busy == workers, "each service's workers ran jobs"
    requests = sum(ledger.statuses.values())
    print(  # noqa: T201
        f"scale-out: {requests} requests in {load_seconds:.1f} s "
        f"({requests / load_seconds:.0f}/s, slowest {ledger.slowest:.2f} s); "
        f"feeds {feeds}; reporting caught up {caught_up:.1f} s after; {counts}"
    )


async def _assert_written_once(
    platform: Platform, ledger: Ledger, batches: list[dict[str, Any]]
) -> None:
    """Each acknowledged id is one row, and there are no others."""
    synced_people = {b["id"] for batch in batches for b in batch["beneficiaries"]}
    synced_records = {r["id"] for batch in batches for r in batch["service_records"]}
    expected = {
        ("beneficiary", "beneficiary"): ledger.created["beneficiary"] | synced_people,
        ("beneficiary", "service_record"): ledger.created["service_record"]
        | synced_records,
        ("training", "trainee"): ledger.created["trainee"],
    }
    for (service, table), ids in expected.items():
        rows = await fetch(platform, service, f"SELECT id::text FROM {table}")
        found = [row[0] for row in rows]
        assert len(found) == len(set(found)) == len(ids), table
        assert set(found) == ids, table
