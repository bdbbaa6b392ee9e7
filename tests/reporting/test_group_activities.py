"""Group sessions and meetings count once each, apart from the services
their attendees received: a coordination meeting with 14 attendees is one
meeting and 14 services."""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth import Role
from tests.beneficiary.api import make_beneficiary
from tests.callers import Caller
from tests.reporting.helpers import by_value, values

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}


async def _post(caller: Caller, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await caller.post(path, body)
    assert r.status_code == 201, r.text
    found: dict[str, Any] = r.json()
    return found


async def test_sessions_and_meetings_are_counted_once_each(
    alice: Caller,
    bob: Caller,
    issue: Any,
    orgs: Any,
    site_ids: list[str],
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    reader = issue(orgs["a"], Role.me_officer)
    partner = issue(orgs["partner"], Role.case_worker)
    people = [await make_beneficiary(alice) for _ in range(4)]
    # a coordination meeting typed in as counts: 14 attendees, one meeting
    await _post(
        alice,
        "/v1/anonymous-services",
        {
            "activity_code": "coordination_meeting",
            "service_date": "2026-02-03",
            "site_id": site_ids[0],
            "counts": [
                {"sex": "female", "age_group": "18_plus", "count": 6},
                {"sex": "male", "age_group": "18_plus", "count": 8},
            ],
        },
    )
    # a meeting as a group activity: 2 registered and 9 anonymous attendees
    await _post(
        alice,
        "/v1/group-activities",
        {
            "activity_code": "coordination_meeting",
            "activity_date": "2026-03-05",
            "site_id": site_ids[0],
            "attendee_ids": [people[0]["id"], people[1]["id"]],
            "anonymous_attendees": [
                {"sex": "male", "age_group": "18_plus", "count": 9}
            ],
        },
    )
    # two peer-support group sessions of four registered people
    for day in ("2026-02-10", "2026-03-10"):
        await _post(
            alice,
            "/v1/group-activities",
            {
                "activity_code": "peer_support_group",
                "activity_date": day,
                "site_id": site_ids[1],
                "duration_minutes": 90,
                "facilitator_staff_ids": ["staff-1"],
                "attendee_ids": [p["id"] for p in people],
            },
        )
    # an awareness session by the partner, 30 people
    await _post(
        partner,
        "/v1/anonymous-services",
        {
            "activity_code": "awareness_session",
            "service_date": "2026-03-20",
            "site_id": site_ids[1],
            "counts": [{"sex": "female", "age_group": "18_plus", "count": 30}],
        },
    )
    # an individual activity given anonymously is services, not a session
    await _post(
        alice,
        "/v1/anonymous-services",
        {
            "activity_code": "remote_pfa",
            "service_date": "2026-03-21",
            "counts": [{"sex": "female", "age_group": "18_plus", "count": 5}],
        },
    )
    # another organisation's session is not A's
    await _post(
        bob,
        "/v1/anonymous-services",
        {
            "activity_code": "awareness_session",
            "service_date": "2026-03-20",
            "counts": [{"sex": "male", "age_group": "18_plus", "count": 40}],
        },
    )
    await catch_up()

    meetings = await values(
        reporting_client, reader, "meetings_held", **YEAR, by="month"
    )
    assert by_value(meetings) == {"2026-02": 1, "2026-03": 1}
    assert meetings["total"]["value"] == 2
    services = await values(
        reporting_client,
        reader,
        "services_delivered",
        **YEAR,
        activity="coordination_meeting",
    )
    assert services["total"]["value"] == 14 + 11  # the attendees' services

    sessions = await values(
        reporting_client, reader, "group_sessions_held", **YEAR, by="activity"
    )
    assert by_value(sessions) == {"peer_support_group": 2, "awareness_session": 1}
    assert sessions["total"]["value"] == 3
    through = await values(
        reporting_client,
        reader,
        "group_sessions_held",
        **YEAR,
        by="delivered_through,organisation",
    )
    assert by_value(through) == {
        ("direct", orgs["a"].id): 2,
        ("partner", orgs["partner"].id): 1,
    }
    by_site = await values(
        reporting_client, reader, "group_sessions_held", **YEAR, by="site"
    )
    assert by_value(by_site) == {site_ids[1]: 3}

    attendance = await values(
        reporting_client, reader, "group_attendance", **YEAR, by="unit"
    )
    assert by_value(attendance) == {"meeting": 14 + 11, "session": 4 + 4 + 30}
    mean = await values(
        reporting_client,
        reader,
        "mean_group_attendance",
        **YEAR,
        activity="peer_support_group",
    )
    assert mean["total"]["value"] == 4
    assert (mean["total"]["numerator"], mean["total"]["denominator"]) == (8, 2)

    # an attendee's service voided: the session still happened, with 3
    records = (
        await alice.get(
            "/v1/service-records", params={"beneficiary_id": people[0]["id"]}
        )
    ).json()["items"]
    peer = next(x for x in records if x["service_date"] == "2026-02-10")
    r = await alice.post(
        f"/v1/service-records/{peer['id']}/void", {"reason": "left early"}
    )
    assert r.status_code == 200, r.text
    await catch_up()
    peer_support = {**YEAR, "activity": "peer_support_group"}
    attendance = await values(
        reporting_client, reader, "group_attendance", **peer_support, by="month"
    )
    assert by_value(attendance) == {"2026-02": 3, "2026-03": 4}
    sessions = await values(
        reporting_client, reader, "group_sessions_held", **peer_support
    )
    assert sessions["total"]["value"] == 2

    partner_reader = issue(orgs["partner"], Role.me_officer)
    own = await values(reporting_client, partner_reader, "group_sessions_held", **YEAR)
    assert own["total"]["value"] == 1  # a partner sees its own work only
    other = issue(orgs["b"], Role.me_officer)
    theirs = await values(reporting_client, other, "group_sessions_held", **YEAR)
    assert theirs["total"]["value"] == 1
