"""The audit trail of services delivered: each record written, read or
listed leaves one row per record (a keyed replay none, another
organisation's 404 none), with the version as the ETag of each write."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.beneficiary.api import audit_trail, make_beneficiary
from tests.callers import Caller

SERIES = {
    "name": "Caregivers",
    "activity_code": "caregiver_session",
    "planned_sessions": 6,
    "starts_on": "2026-03-01",
}
ANONYMOUS = {
    "activity_code": "awareness_session",
    "service_date": "2026-03-01",
    "counts": [{"sex": "female", "age_group": "adult", "count": 12}],
}


async def trail(engine: AsyncEngine, entity_id: str) -> list[tuple[str, str]]:
    return [(action, kind) for action, kind, _ in await audit_trail(engine, entity_id)]


async def written_twice(caller: Caller, path: str, body: Any) -> dict[str, Any]:
    """The write sent twice with one Idempotency-Key: one answer."""
    answers = [
        await caller.post(path, body, headers={"Idempotency-Key": path})
        for _ in range(2)
    ]
    for r in answers:
        assert r.status_code == 201, r.text
        assert r.headers["etag"] == f'"{r.json()["version"]}"'
    assert answers[1].headers["idempotent-replayed"] == "true"
    assert answers[0].json() == answers[1].json()
    first: dict[str, Any] = answers[0].json()
    return first


async def test_each_kind_of_record_leaves_a_row_per_write_and_read(
    alice: Caller, bob: Caller, beneficiary_engine: AsyncEngine
) -> None:
    person = await make_beneficiary(alice)
    service = await written_twice(
        alice,
        "/v1/service-records",
        {
            "beneficiary_id": person["id"],
            "activity_code": "individual_counselling",
            "service_date": "2026-02-01",
        },
    )
    group = await written_twice(
        alice,
        "/v1/group-activities",
        {
            "activity_code": "caregiver_session",
            "activity_date": "2026-03-01",
            "attendee_ids": [person["id"]],
        },
    )
    series = await written_twice(alice, "/v1/group-series", SERIES)
    anonymous = await written_twice(alice, "/v1/anonymous-services", ANONYMOUS)
    for path in (
        f"/v1/service-records/{service['id']}",
        f"/v1/group-activities/{group['id']}",
        f"/v1/group-series/{series['id']}",
        f"/v1/anonymous-services/{anonymous['id']}",
    ):
        assert (await alice.get(path)).status_code == 200
        assert (await bob.get(path)).status_code == 404
    for path, shown in (
        ("/v1/service-records", service),
        ("/v1/group-activities", group),
    ):
        listed = await alice.get(path)
        assert shown["id"] in [x["id"] for x in listed.json()["items"]]
    assert await trail(beneficiary_engine, service["id"]) == [
        ("create", "service_record"),
        ("read", "service_record"),
        ("list", "service_record"),
    ]
    assert await trail(beneficiary_engine, group["id"]) == [
        ("create", "group_activity"),
        ("read", "group_activity"),
        ("list", "group_activity"),
    ]
    assert await trail(beneficiary_engine, series["id"]) == [
        ("create", "group_series"),
        ("read", "group_series"),
    ]
    assert await trail(beneficiary_engine, anonymous["id"]) == [
        ("create", "anonymous_service"),
        ("read", "anonymous_service"),
    ]
