"""Group activities and anonymous counts sent in sync batches count in
reporting as their single writes do, once however often a device sends the
batch again."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.auth import Role
from tests.beneficiary.api import make_beneficiary
from tests.callers import Caller
from tests.reporting.helpers import by_value, values

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}
FIGURES = (
    ("group_sessions_held", "activity"),
    ("group_attendance", "unit"),
    ("services_delivered", "activity"),
)


async def _figures(client: httpx.AsyncClient, reader: Caller) -> dict[str, Any]:
    return {
        name: by_value(await values(client, reader, name, **YEAR, by=by))
        for name, by in FIGURES
    }


async def test_a_batch_sent_again_counts_once(
    alice: Caller,
    issue: Any,
    orgs: Any,
    site_ids: list[str],
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    reader = issue(orgs["a"], Role.me_officer)
    people = [await make_beneficiary(alice) for _ in range(2)]
    batch = {
        "device_id": "tablet-1",
        "group_activities": [
            {
                "id": str(uuid.uuid4()),
                "data": {
                    "activity_code": "peer_support_group",
                    "activity_date": "2026-03-10",
                    "site_id": site_ids[0],
                    "duration_minutes": 90,
                    "facilitator_staff_ids": ["staff-1"],
                    "attendee_ids": [p["id"] for p in people],
                    "anonymous_attendees": [
                        {"sex": "female", "age_group": "18_plus", "count": 3}
                    ],
                },
            }
        ],
        "anonymous_services": [
            {
                "id": str(uuid.uuid4()),
                "data": {
                    "activity_code": "awareness_session",
                    "service_date": "2026-03-20",
                    "site_id": site_ids[0],
                    "counts": [
                        {"sex": "female", "age_group": "18_plus", "count": 12},
                        {"sex": "male", "age_group": "0_17", "count": 7},
                    ],
                },
            }
        ],
    }
    r = await alice.post("/v1/sync", batch)
    assert [x["status"] for x in r.json()["results"]] == ["created", "created"]
    await catch_up()
    first = await _figures(reporting_client, reader)
    assert first["group_sessions_held"] == {
        "peer_support_group": 1,
        "awareness_session": 1,
    }
    assert first["group_attendance"] == {"session": 2 + 3 + 19}
    assert first["services_delivered"] == {
        "peer_support_group": 2 + 3,
        "awareness_session": 19,
    }
    for _ in range(2):
        again = await alice.post("/v1/sync", batch)
        assert [x["status"] for x in again.json()["results"]] == ["unchanged"] * 2
    await catch_up()
    assert await _figures(reporting_client, reader) == first
