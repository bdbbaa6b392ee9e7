"""Writes and keys under racing requests, through the public API on
PostgreSQL and Redis: a client id sent several times at once is one record
(the record is written at the commit), requests that fail after reading give
their connection back, and an API key's revocation and per-minute rate hold
for requests that come together."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import shared.auth
from shared.auth import Role
from tests.beneficiary.api import make_beneficiary
from tests.callers import Caller

PERIOD = {"start": "2026-01-01", "end": "2026-12-31"}


def record_body(person: dict[str, Any], record_id: uuid.UUID) -> dict[str, Any]:
    return {
        "id": str(record_id),
        "beneficiary_id": person["id"],
        "activity_code": "individual_counselling",
        "service_date": "2026-02-01",
    }


async def test_a_client_id_written_twice_at_once_is_one_record_and_a_409(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """The record is written at the commit: requests with the same client
    id racing past the id check give one 201 and 409 problems (never a
    500), one row, one event, one audit row, and no connection left
    checked out."""
    people = [await make_beneficiary(alice) for _ in range(2)]
    for attempt in range(5):
        record_id = uuid.uuid4()
        answers = await asyncio.gather(
            *(
                alice.post("/v1/service-records", record_body(people[n % 2], record_id))
                for n in range(4)
            )
        )
        statuses = sorted(r.status_code for r in answers)
        assert statuses.count(201) == 1, (attempt, [r.text for r in answers])
        assert set(statuses) <= {201, 409}, [r.text for r in answers]
        for r in answers:
            if r.status_code == 409:
                assert r.headers["content-type"].startswith("application/problem+json")
        async with beneficiary_engine.connect() as conn:
            found = await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM service_record WHERE id = :id),"
                    " (SELECT count(*) FROM outbox_event WHERE entity_id = :id),"
                    " (SELECT count(*) FROM audit_entry WHERE entity_id = :id)"
                ),
                {"id": record_id},
            )
            assert tuple(found.one()) == (1, 1, 1)
    assert beneficiary_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_many_failing_requests_leave_no_connection_checked_out(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """Handlers that read then raise (404, 409, 422 after reading) give their
    connection back; more of them than the pool holds still leave it free."""
    person = await make_beneficiary(alice)
    record_id = uuid.uuid4()
    r = await alice.post("/v1/service-records", record_body(person, record_id))
    assert r.status_code == 201, r.text
    for _ in range(3):
        failing = [
            alice.get(f"/v1/service-records/{uuid.uuid4()}"),
            alice.post("/v1/service-records", record_body(person, record_id)),
            alice.post(
                "/v1/service-records",
                {**record_body(person, uuid.uuid4()), "service_date": "1900-01-01"},
            ),
            alice.post(
                "/v1/service-records",
                {
                    **record_body(person, uuid.uuid4()),
                    "beneficiary_id": str(uuid.uuid4()),
                },
            ),
        ] * 10
        answers = await asyncio.gather(*failing)
        assert {r.status_code for r in answers} <= {404, 409, 422}, [
            r.text for r in answers if r.status_code >= 500
        ]
    assert beneficiary_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    r = await alice.get(f"/v1/service-records/{record_id}")
    assert r.status_code == 200, r.text


async def test_a_revoked_key_is_refused_at_once_and_its_rate_holds(
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The key is looked up by an autocommit read and last_used_at written
    apart: a key revoked after use is refused on its very next request, and
    its per-minute rate is enforced even when requests come together."""
    window = shared.auth.current_window()  # one minute, however long it takes
    monkeypatch.setattr(shared.auth, "current_window", lambda: window)
    manager = issue(orgs["a"], Role.programme_manager)
    r = await reporting_client.post(
        "/v1/api-keys",
        json={"name": "feeds", "rate_per_minute": 3},
        headers=manager.headers(),
    )
    assert r.status_code == 201, r.text
    key_id, secret = r.json()["id"], r.json()["key"]
    path = "/v1/indicators/people_reached/values"
    answers = await asyncio.gather(
        *(
            reporting_client.get(path, params=PERIOD, headers={"X-API-Key": secret})
            for _ in range(6)
        )
    )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200, 200, 200, 429, 429, 429], [r.text for r in answers]
    r = await reporting_client.delete(
        f"/v1/api-keys/{key_id}", headers=manager.headers()
    )
    assert r.status_code in (200, 204), r.text
    r = await reporting_client.get(path, params=PERIOD, headers={"X-API-Key": secret})
    assert r.status_code == 401, r.text
