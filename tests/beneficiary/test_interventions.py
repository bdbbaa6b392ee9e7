from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from tests.beneficiary.api import audit_trail, count_rows, enrol, make_beneficiary
from tests.callers import Caller


async def test_pm_plus_dose_completion_and_follow_up_windows(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    person = await make_beneficiary(alice)
    enrolment = await enrol(alice, person, "pm_plus")
    assert (enrolment["sessions_planned"], enrolment["next_session"]) == (5, 1)
    path = f"/v1/enrolments/{enrolment['id']}/sessions"
    for number, day in [(1, "2026-02-02"), (2, "2026-02-09"), (3, "2026-02-16")]:
        r = await alice.post(path, {"session_number": number, "attended_on": day})
        assert r.status_code == 200, r.text
    progress = r.json()
    assert (progress["dose"], progress["completed"]) == (0.6, False)
    again = await alice.post(path, {"session_number": 3, "attended_on": "2026-02-17"})
    assert again.status_code == 409
    r = await alice.post(path, {"session_number": 5, "attended_on": "2026-03-02"})
    assert (r.json()["dose"], r.json()["completed"]) == (0.8, True)  # >= 70 %
    assert r.json()["next_session"] == 4
    dropped = await alice.post(
        f"/v1/enrolments/{enrolment['id']}/drop-out", {"on": "2026-03-10"}
    )
    assert dropped.json()["status"] == "dropped_out"
    assert dropped.json()["completed"] is True
    windows = {w["name"]: w for w in dropped.json()["follow_up_windows"]}
    assert windows["three_months"]["opens_on"] == "2026-05-17"
    # each session is one service record, counted once
    assert await count_rows(beneficiary_engine, "service_record") == 4
    records = (
        await alice.get("/v1/service-records", params={"beneficiary_id": person["id"]})
    ).json()["items"]
    assert {x["activity_code"] for x in records} == {"pm_plus_individual"}


async def test_group_ipt_counts_the_group_attendance_once(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    person = await make_beneficiary(alice)
    enrolment = await enrol(alice, person, "ipt_group")
    path = f"/v1/enrolments/{enrolment['id']}/sessions"
    pre = await alice.post(path, {"session_number": 0, "attended_on": "2026-02-02"})
    assert pre.status_code == 200, pre.text
    group = await alice.post(
        "/v1/group-activities",
        {
            "activity_code": "ipt_group_session",
            "activity_date": "2026-02-09",
            "attendee_ids": [person["id"]],
            "anonymous_attendees": [
                {"sex": "female", "age_group": "adult", "count": 5}
            ],
        },
    )
    without = await alice.post(path, {"session_number": 1})
    assert without.status_code == 422
    r = await alice.post(
        path, {"session_number": 1, "group_activity_id": group.json()["id"]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["sessions_attended"] == [0, 1]
    assert (
        await count_rows(beneficiary_engine, "service_record") == 2
    )  # pre-group + group
    stranger = await make_beneficiary(alice)
    other = await enrol(alice, stranger, "ipt_group")
    r = await alice.post(
        f"/v1/enrolments/{other['id']}/sessions",
        {"session_number": 1, "group_activity_id": group.json()["id"]},
    )
    assert r.status_code == 422  # not on that session's attendance list


async def test_enrolment_rules(alice: Caller) -> None:
    person = await make_beneficiary(alice)
    await enrol(alice, person, "group_pm_plus")
    twice = await alice.post(
        "/v1/enrolments",
        {
            "beneficiary_id": person["id"],
            "intervention": "group_pm_plus",
            "enrolled_on": "2026-02-01",
        },
    )
    assert twice.status_code == 409
    unknown = await alice.post(
        "/v1/enrolments",
        {
            "beneficiary_id": person["id"],
            "intervention": "hypnosis",
            "enrolled_on": "2026-02-01",
        },
    )
    assert unknown.status_code == 422
    listed = {i["code"] for i in (await alice.get("/v1/interventions")).json()["items"]}
    assert listed == {"pm_plus", "group_pm_plus", "ipt_group"}


async def test_enrolments_and_group_activities_list_in_the_callers_scope(
    alice: Caller, bob: Caller, issue: Any, site_ids: list[str]
) -> None:
    here, there = site_ids[:2]
    people = [
        await make_beneficiary(alice, site_id=site) for site in (here, there, here)
    ]
    enrolled = [await enrol(alice, p, "pm_plus") for p in people]
    for site, day in ((here, "2026-02-09"), (there, "2026-02-10")):
        r = await alice.post(
            "/v1/group-activities",
            {
                "activity_code": "ipt_group_session",
                "activity_date": day,
                "site_id": site,
                "attendee_ids": [p["id"] for p in people],
            },
        )
        assert r.status_code == 201, r.text

    async def ids(caller: Caller, path: str, **params: Any) -> list[str]:
        found, cursor = [], None
        while True:
            query = {**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
            r = await caller.get(path, params=query)
            assert r.status_code == 200, r.text
            found += [item["id"] for item in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return found

    assert sorted(await ids(alice, "/v1/enrolments")) == sorted(
        e["id"] for e in enrolled
    )
    mine = await ids(alice, "/v1/enrolments", beneficiary_id=people[1]["id"])
    assert mine == [enrolled[1]["id"]]
    local = issue(alice.org, Role.case_worker, sites=[here])
    assert sorted(await ids(local, "/v1/enrolments")) == sorted(
        [enrolled[0]["id"], enrolled[2]["id"]]
    )
    assert await ids(bob, "/v1/enrolments") == []

    groups = await ids(alice, "/v1/group-activities")
    assert len(groups) == 2
    r = await local.get("/v1/group-activities")
    [seen] = r.json()["items"]
    assert seen["site_id"] == here
    assert people[1]["id"] not in seen["attendee_ids"]  # registered elsewhere
    after = await alice.get("/v1/group-activities", params={"start": "2026-02-10"})
    assert [g["activity_date"] for g in after.json()["items"]] == ["2026-02-10"]
    assert await ids(bob, "/v1/group-activities") == []


async def test_an_enrolment_read_and_listed_leaves_its_rows(
    alice: Caller, bob: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """Each read of an enrolment is audited with the enrolment it showed;
    another organisation's 404 leaves none."""
    enrolment = await enrol(alice, await make_beneficiary(alice), "pm_plus")
    path = f"/v1/enrolments/{enrolment['id']}"
    assert (await alice.get(path)).json()["id"] == enrolment["id"]
    assert (await bob.get(path)).status_code == 404
    listed = await alice.get(
        "/v1/enrolments", params={"beneficiary_id": enrolment["beneficiary_id"]}
    )
    assert [e["id"] for e in listed.json()["items"]] == [enrolment["id"]]
    assert await audit_trail(beneficiary_engine, enrolment["id"]) == [
        (action, "enrolment", enrolment["id"]) for action in ("create", "read", "list")
    ]
