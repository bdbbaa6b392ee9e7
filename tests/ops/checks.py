"""What the ops tests send and what they check afterwards: writes through the
real APIs, then the producers' own tables read in SQL and compared with the
change feeds and reporting's indicators."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from shared.auth import Role
from tests.beneficiary.api import CONSENTS, beneficiary_body, offline_person
from tests.ops.harness import Platform, service_database
from tests.training.api import trainee

PRODUCERS = ("beneficiary", "training")
EVERYTHING = {"start": "2020-01-01", "end": "2030-12-31"}


@dataclass
class Org:
    """An organisation and the callers the tests act as."""

    id: str
    case_worker: dict[str, str]
    trainer: dict[str, str]
    me_officer: dict[str, str]
    service: dict[str, str]


async def make_org(platform: Platform, client: httpx.AsyncClient) -> Org:
    admin = platform.token(str(uuid.UUID(int=0)), Role.platform_admin)
    r = await client.post(
        f"{platform.api_url('beneficiary')}/v1/organisations",
        json={"name": f"Org {uuid.uuid4().hex[:6]}", "type": "international_ngo"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    org: str = r.json()["id"]
    return Org(
        org,
        case_worker=platform.token(org, Role.case_worker, subject="alice"),
        trainer=platform.token(org, Role.trainer, subject="tariq"),
        me_officer=platform.token(org, Role.me_officer, subject="mona"),
        service=platform.token(str(uuid.UUID(int=0)), Role.service),
    )


@dataclass
class Ledger:
    """Every request sent and what came back, for the checks afterwards."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    transport_errors: list[str] = field(default_factory=list)
    created: dict[str, set[str]] = field(default_factory=dict)
    slowest: float = 0.0

    async def send(
        self,
        kind: str,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        **kwargs: Any,
    ) -> httpx.Response | None:
        began = time.monotonic()
        try:
            r = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.transport_errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            return None
        finally:
            self.slowest = max(self.slowest, time.monotonic() - began)
        self.statuses[(kind, r.status_code)] += 1
        if r.status_code in (200, 201) and method == "POST" and "id" in r.json():
            self.created.setdefault(kind, set()).add(r.json()["id"])
        return r

    def server_errors(self) -> dict[tuple[str, int], int]:
        return {k: n for k, n in self.statuses.items() if k[1] >= 500}


def sync_batch(people: int, records_each: int) -> dict[str, Any]:
    """A field device's upload: new people with consent and their services."""
    beneficiaries, records = [], []
    for _ in range(people):
        person = str(uuid.uuid4())
        beneficiaries.append(
            {"id": person, "data": offline_person(), "consents": CONSENTS}
        )
        for day in range(records_each):
            records.append(
                {
                    "id": str(uuid.uuid4()),
                    "data": {
                        "beneficiary_id": person,
                        "activity_code": "pfa",
                        "service_date": f"2026-03-{day + 1:02d}",
                        "modality": "in_person",
                    },
                }
            )
    return {"device_id": "tablet-ops", "beneficiaries": beneficiaries,
            "service_records": records}  # fmt: skip


def service_record(person: str, day: int) -> dict[str, Any]:
    return {
        "beneficiary_id": person,
        "activity_code": "individual_counselling",
        "service_date": f"2026-02-{1 + day % 27:02d}",
        "staff_id": "staff-1",
        "duration_minutes": 50,
    }


async def fetch(platform: Platform, service: str, sql: str, *args: Any) -> list[Any]:
    """Rows of one query on a service's database, read directly."""
    connection = await asyncpg.connect(service_database(platform, service))
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def scalar(platform: Platform, service: str, sql: str, *args: Any) -> Any:
    rows = await fetch(platform, service, sql, *args)
    return rows[0][0]


async def heads(platform: Platform) -> dict[str, int]:
    """Each producer's last feed position, once nothing waits to be sequenced."""
    found = {}
    for source in PRODUCERS:
        found[source] = await scalar(
            platform, source, "SELECT last_position FROM outbox_counter"
        )
    return found


async def wait_until_reporting_caught_up(platform: Platform, seconds: float) -> float:
    """Until every committed event has a feed position and reporting's cursor
    for each producer is at that producer's head. Returns the seconds waited."""
    began = time.monotonic()
    while True:
        pending = sum(
            [
                await scalar(
                    platform,
                    source,
                    "SELECT count(*) FROM outbox_event WHERE position IS NULL",
                )
                for source in PRODUCERS
            ]
        )
        cursors = dict(
            await fetch(
                platform, "reporting", "SELECT source, position FROM feed_cursor"
            )
        )
        head = await heads(platform)
        if pending == 0 and all(cursors.get(s, 0) == head[s] for s in PRODUCERS):
            return time.monotonic() - began
        assert time.monotonic() - began < seconds, (
            f"reporting not caught up after {seconds} s: {pending} unsequenced, "
            f"cursors {cursors}, heads {head}"
        )
        await asyncio.sleep(0.25)


async def assert_feeds_have_no_gap(
    platform: Platform, client: httpx.AsyncClient, org: Org
) -> dict[str, int]:
    """Each producer's change feed, read over HTTP from each of its running
    processes, holds positions 1..head once each, and every event id once."""
    lengths = {}
    for source in PRODUCERS:
        head = (await heads(platform))[source]
        for url in platform.started_apis(source):
            positions: list[int] = []
            ids: list[str] = []
            after = 0
            while True:
                r = await client.get(
                    f"{url}/v1/events",
                    params={"after": after, "limit": 1000},
                    headers=org.service,
                )
                assert r.status_code == 200, r.text
                events = r.json()["events"]
                if not events:
                    break
                positions += [e["position"] for e in events]
                ids += [e["id"] for e in events]
                after = events[-1]["position"]
            assert positions == list(range(1, head + 1)), source
            assert len(set(ids)) == len(ids), source
        total = await scalar(platform, source, "SELECT count(*) FROM outbox_event")
        assert total == head, f"{source}: {total} events, head {head}"
        lengths[source] = head
    return lengths


async def indicator(
    platform: Platform, client: httpx.AsyncClient, org: Org, name: str, **params: Any
) -> dict[str, Any]:
    r = await client.get(
        f"{platform.api_url('reporting')}/v1/indicators/{name}/values",
        params={**EVERYTHING, **params},
        headers=org.me_officer,
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def total(body: dict[str, Any]) -> int:
    value = body["total"]["value"]
    return int(value) if value is not None else 0


async def assert_indicators_equal_sql(
    platform: Platform, client: httpx.AsyncClient, org: Org
) -> dict[str, int]:
    """Reporting's indicators against counts computed on the producers'
    tables: an event lost or counted twice shows as a difference."""
    expected = {
        "services_delivered": await scalar(
            platform,
            "beneficiary",
            "SELECT count(*) FROM service_record WHERE NOT voided",
        ),
        "new_beneficiaries": await scalar(
            platform, "beneficiary", "SELECT count(*) FROM beneficiary"
        ),
        "people_reached": await scalar(
            platform,
            "beneficiary",
            "SELECT count(DISTINCT beneficiary_id) FROM service_record "
            "WHERE NOT voided",
        ),
        "people_trained": await scalar(
            platform,
            "training",
            "SELECT count(DISTINCT trainee_id) FROM attendance WHERE present",
        ),
    }
    found = {
        name: total(await indicator(platform, client, org, name)) for name in expected
    }
    assert found == expected
    by_sex = await indicator(platform, client, org, "people_reached", by="sex")
    sql_by_sex = dict(
        await fetch(
            platform,
            "beneficiary",
            "SELECT b.sex, count(DISTINCT s.beneficiary_id) FROM service_record s "
            "JOIN beneficiary b ON b.id = s.beneficiary_id "
            "WHERE NOT s.voided GROUP BY b.sex",
        )
    )
    assert {c["dims"]["sex"]: c["value"] for c in by_sex["cells"]} == sql_by_sex
    return expected


async def register(
    ledger: Ledger,
    client: httpx.AsyncClient,
    url: str,
    org: Org,
    *,
    sex: str = "female",
    key: str | None = None,
) -> httpx.Response | None:
    headers = dict(org.case_worker)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await ledger.send(
        "beneficiary",
        client,
        "POST",
        f"{url}/v1/beneficiaries",
        json=beneficiary_body(sex=sex),
        headers=headers,
    )


async def new_trainee(
    ledger: Ledger, client: httpx.AsyncClient, url: str, org: Org, n: int
) -> httpx.Response | None:
    return await ledger.send(
        "trainee",
        client,
        "POST",
        f"{url}/v1/trainees",
        json=trainee(full_name=f"Trainee {n}", sex=("female", "male")[n % 2]),
        headers=org.trainer,
    )
