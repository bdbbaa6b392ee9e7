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


async def test_meeting_participants_by_the_organisation_they_came_from(
    alice: Caller,
    issue: Any,
    orgs: Any,
    site_ids: list[str],
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """A coordination meeting is one meeting, its participants counted by
    the organisation they came from; the ones not placed are unknown."""
    reader = issue(orgs["a"], Role.me_officer)
    people = [await make_beneficiary(alice) for _ in range(2)]
    a, partner, b = orgs["a"].id, orgs["partner"].id, orgs["b"].id
    meeting = {
        "activity_code": "coordination_meeting",
        "activity_date": "2026-03-05",
        "site_id": site_ids[0],
        "attendee_ids": [p["id"] for p in people],
        "anonymous_attendees": [{"sex": "male", "age_group": "18_plus", "count": 9}],
    }
    # 11 attended: more than 11 placed, an organisation twice, or one not on
    # the list is refused, and nothing is written
    for placed, problem in [
        ([(a, 6), (partner, 6)], "more participants by organisation"),
        ([(a, 1), (a, 2)], "an organisation is listed twice"),
        ([(a, 1), ("0b5e3c52-8a40-4f57-9f3e-6c1d25b0f0a1", 2)], "unknown"),
    ]:
        r = await alice.post(
            "/v1/group-activities",
            {
                **meeting,
                "participants_by_organisation": [
                    {"organisation_id": o, "participants": n} for o, n in placed
                ],
            },
        )
        assert r.status_code == 422, r.text
        assert problem in r.text
    assert (await alice.get("/v1/group-activities")).json()["items"] == []

    held = await _post(
        alice,
        "/v1/group-activities",
        {
            **meeting,
            "participants_by_organisation": [
                {"organisation_id": a, "participants": 3},
                {"organisation_id": partner, "participants": 5},
                {"organisation_id": b, "participants": 2},
            ],
        },
    )
    assert [
        (p["organisation_id"], p["participants"])
        for p in held["participants_by_organisation"]
    ] == [(a, 3), (partner, 5), (b, 2)]
    # a meeting typed in as counts names no organisation: 14 unknown
    await _post(
        alice,
        "/v1/anonymous-services",
        {
            "activity_code": "coordination_meeting",
            "service_date": "2026-04-07",
            "site_id": site_ids[0],
            "counts": [{"sex": "female", "age_group": "18_plus", "count": 14}],
        },
    )
    # a group session's attendees are not meeting participants
    await _post(
        alice,
        "/v1/group-activities",
        {
            "activity_code": "peer_support_group",
            "activity_date": "2026-03-10",
            "attendee_ids": [p["id"] for p in people],
            "participants_by_organisation": [{"organisation_id": a, "participants": 2}],
        },
    )
    await catch_up()

    participants = await values(
        reporting_client, reader, "meeting_participants", **YEAR,
        by="participant_organisation",
    )  # fmt: skip
    assert by_value(participants) == {a: 3, partner: 5, b: 2, "unknown": 1 + 14}
    assert participants["total"]["value"] == 25
    assert participants["labels"]["participant_organisation"][partner] == (
        "Partner of A"
    )
    by_month = await values(
        reporting_client, reader, "meeting_participants", **YEAR,
        by="month,participant_organisation",
    )  # fmt: skip
    assert by_value(by_month) == {
        ("2026-03", a): 3,
        ("2026-03", partner): 5,
        ("2026-03", b): 2,
        ("2026-03", "unknown"): 1,
        ("2026-04", "unknown"): 14,
    }
    meetings = await values(reporting_client, reader, "meetings_held", **YEAR)
    assert meetings["total"]["value"] == 2  # once each, however many came

    # a registered attendee's service voided: one fewer unplaced participant
    records = (
        await alice.get(
            "/v1/service-records", params={"beneficiary_id": people[0]["id"]}
        )
    ).json()["items"]
    at_meeting = next(x for x in records if x["service_date"] == "2026-03-05")
    r = await alice.post(
        f"/v1/service-records/{at_meeting['id']}/void", {"reason": "not there"}
    )
    assert r.status_code == 200, r.text
    await catch_up()
    participants = await values(
        reporting_client, reader, "meeting_participants", start="2026-03-01",
        end="2026-03-31", by="participant_organisation",
    )  # fmt: skip
    assert by_value(participants) == {a: 3, partner: 5, b: 2}


async def test_a_group_series_its_sessions_and_the_people_it_reached(
    alice: Caller,
    issue: Any,
    orgs: Any,
    site_ids: list[str],
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """A group (name, activity, topic, facilitators, site, sessions
    planned) and its sessions: sessions held against planned, and people
    reached per series, each person once however many sessions."""
    reader = issue(orgs["a"], Role.me_officer)
    people = [(await make_beneficiary(alice))["id"] for _ in range(5)]
    women = await _post(
        alice,
        "/v1/group-series",
        {
            "name": "Women's peer-support group",
            "activity_code": "peer_support_group",
            "topic_code": "stress_management",
            "facilitator_staff_ids": ["staff-1", "staff-2"],
            "site_id": site_ids[1],
            "planned_sessions": 4,
            "starts_on": "2026-02-02",
        },
    )
    assert (women["sessions_held"], women["people_reached"]) == (0, 0)
    carers = await _post(
        alice,
        "/v1/group-series",
        {
            "name": "Caregivers",
            "activity_code": "caregiver_session",
            "site_id": site_ids[1],
            "planned_sessions": 2,
            "starts_on": "2026-03-02",
        },
    )
    # a session of another activity than its series' is refused
    r = await alice.post(
        "/v1/group-activities",
        {
            "activity_code": "caregiver_session",
            "activity_date": "2026-02-09",
            "attendee_ids": people[:2],
            "group_series_id": women["id"],
        },
    )
    assert r.status_code == 422, r.text
    # another organisation cannot hold a session of A's series
    r = await issue(orgs["b"], Role.case_worker).post(
        "/v1/group-series", {"name": "x", "activity_code": "peer_support_group",
                             "planned_sessions": 1, "starts_on": "2026-02-02"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert (
        await issue(orgs["b"], Role.case_worker).get(f"/v1/group-series/{women['id']}")
    ).status_code == 404

    # women's group: 3 of 4 sessions, people 0-3 (4 people, 7 attendances)
    for day, present in [
        ("2026-02-09", [0, 1]),
        ("2026-02-16", [1, 2]),
        ("2026-02-23", [0, 2, 3]),
    ]:
        await _post(
            alice,
            "/v1/group-activities",
            {
                "activity_code": "peer_support_group",
                "activity_date": day,
                "site_id": site_ids[1],
                "attendee_ids": [people[i] for i in present],
                "group_series_id": women["id"],
            },
        )
    # caregivers: both sessions, person 4 and 2 anonymous carers each time
    for day in ("2026-03-09", "2026-03-16"):
        await _post(
            alice,
            "/v1/group-activities",
            {
                "activity_code": "caregiver_session",
                "activity_date": day,
                "site_id": site_ids[1],
                "attendee_ids": [people[4]],
                "anonymous_attendees": [
                    {"sex": "female", "age_group": "18_plus", "count": 2}
                ],
                "group_series_id": carers["id"],
            },
        )
    # a session of no series
    await _post(
        alice,
        "/v1/group-activities",
        {
            "activity_code": "peer_support_group",
            "activity_date": "2026-03-20",
            "attendee_ids": [people[0]],
        },
    )
    read = (await alice.get(f"/v1/group-series/{women['id']}")).json()
    assert (read["sessions_held"], read["people_reached"]) == (3, 4)
    assert read["topic_code"] == "stress_management"
    await catch_up()

    w, c = women["id"], carers["id"]
    planned = await values(
        reporting_client, reader, "group_sessions_planned", **YEAR, by="series"
    )
    assert by_value(planned) == {w: 4, c: 2}
    held = await values(
        reporting_client, reader, "group_sessions_held", **YEAR, by="series"
    )
    assert by_value(held) == {w: 3, c: 2, "unknown": 1}
    reached = await values(
        reporting_client, reader, "people_reached", **YEAR, by="series"
    )
    assert by_value(reached) == {w: 4, c: 1, "unknown": 1}
    services = await values(
        reporting_client, reader, "services_delivered", **YEAR, by="series"
    )
    assert by_value(services) == {w: 7, c: 2 + 4, "unknown": 1}
    topics = await values(
        reporting_client, reader, "group_sessions_planned", **YEAR, by="topic"
    )
    assert by_value(topics) == {"stress_management": 4, "unknown": 2}


async def test_sessions_by_topic_and_language(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """A session's topic (a code) and language break sessions and
    attendance down; a session naming neither is unknown in both."""
    people = [(await make_beneficiary(alice))["id"] for _ in range(3)]
    for day, topic, language, present in [
        ("2026-02-03", "anger_management", "ar", 3),
        ("2026-02-10", "anger_management", "ckb", 2),
        ("2026-02-17", "parenting", "ar", 1),
        ("2026-02-24", None, None, 2),
    ]:
        body: dict[str, Any] = {
            "activity_code": "peer_support_group",
            "activity_date": day,
            "attendee_ids": people[:present],
        }
        if topic:
            body |= {"topic_code": topic, "language": language}
        held = await _post(alice, "/v1/group-activities", body)
        assert (held["topic_code"], held["language"]) == (topic, language)
    r = await alice.post(
        "/v1/group-activities",
        {
            "activity_code": "peer_support_group",
            "activity_date": "2026-02-25",
            "attendee_ids": people[:1],
            "language": "Arabic",
        },
    )
    assert r.status_code == 422, r.text
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)

    sessions = await values(
        reporting_client, reader, "group_sessions_held", **YEAR, by="topic"
    )
    assert by_value(sessions) == {"anger_management": 2, "parenting": 1, "unknown": 1}
    attendance = await values(
        reporting_client, reader, "group_attendance", **YEAR, by="language"
    )
    assert by_value(attendance) == {"ar": 3 + 1, "ckb": 2, "unknown": 2}
    both = await values(
        reporting_client, reader, "group_sessions_held", **YEAR,
        by="language", topic="anger_management",
    )  # fmt: skip
    assert by_value(both) == {"ar": 1, "ckb": 1}
    r = await reporting_client.get(
        "/v1/indicators/group_sessions_held/values",
        params={**YEAR, "language": "Arabic"},
        headers=reader.headers(),
    )
    assert r.status_code == 422, r.text
