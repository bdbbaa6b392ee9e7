"""Practice feeds care: a supervised practice session links the group
activity it was recorded as in the beneficiary service, so its clients are
reached once, their Group IPT enrolments follow the group session, and a
course can require supervised sessions, fidelity and supervision hours."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.beneficiary.api import enrol, make_beneficiary
from tests.callers import Caller
from tests.reporting.helpers import by_value, values
from tests.training.api import FIDELITY_ITEMS, SHA, token, trainee

SIZES = (6, 8, 10, 9)
"""Four practice groups of 6 to 10 clients: 33 clients."""
GROUP_SESSIONS = range(1, 9)
"""Group IPT's group sessions; with each group's pre-group session, 36."""
CRITERIA = {
    "min_attendance_share": 0.8,
    "min_supervised_sessions": 9,
    "min_mean_fidelity": 80,
    "min_supervision_hours": 3,
}


async def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _held_on(group: int, number: int) -> str:
    return f"2026-04-{1 + number * 3 + group % 3:02d}"


async def _cohort(
    client: httpx.AsyncClient, headers: dict[str, str], trainees: int
) -> tuple[str, list[str]]:
    """A foundational course with supervised practice criteria, and a
    cohort of ``trainees`` who attended its one session."""
    course = await _ok(
        await client.post(
            "/v1/courses",
            json={
                "title": "IPT-G foundations",
                "approach": "ipt_g",
                "level": "foundational",
                "planned_hours": 43,
                "criteria": CRITERIA,
            },
            headers=headers,
        )
    )
    people = [
        (
            await _ok(
                await client.post(
                    "/v1/trainees", json=trainee(full_name=f"F{i}"), headers=headers
                )
            )
        )["id"]
        for i in range(trainees)
    ]
    cohort = await _ok(
        await client.post(
            "/v1/cohorts",
            json={
                "course_id": course["id"],
                "title": "IPT-G 2026",
                "starts_on": "2026-03-01",
                "ends_on": "2026-03-10",
                "modality": "online",
            },
            headers=headers,
        )
    )
    path = f"/v1/cohorts/{cohort['id']}"
    await _ok(
        await client.post(
            f"{path}/enrolments", json={"trainee_ids": people}, headers=headers
        )
    )
    await _ok(
        await client.post(
            f"{path}/sessions",
            json={"number": 1, "held_on": "2026-03-02", "hours": 6},
            headers=headers,
        )
    )
    await _ok(
        await client.put(
            f"{path}/sessions/1/attendance", json={"present": people}, headers=headers
        )
    )
    return str(cohort["id"]), people


@pytest.mark.long
async def test_a_practice_cascade_reaches_its_clients_once(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """36 recorded sessions in 4 groups of 6 to 10 clients: the 32 group
    sessions are group activities with attendance (enrolments follow them),
    linked from the practice sessions; the clients are reached once."""
    headers = token(training_settings, uuid.UUID(alice.org.id), Role.trainer)
    cohort, facilitators = await _cohort(training_client, headers, trainees=9)
    groups: list[tuple[str, list[str]]] = []
    enrolments: dict[str, str] = {}
    for g, size in enumerate(SIZES):
        clients = []
        for _ in range(size):
            person = await make_beneficiary(alice)
            enrolments[person["id"]] = (await enrol(alice, person, "ipt_group"))["id"]
            clients.append(person["id"])
        group = await _ok(
            await training_client.post(
                "/v1/practice-groups",
                json={
                    "name": f"Group {g + 1}",
                    "cohort_id": cohort,
                    "facilitator_trainee_ids": facilitators[2 * g : 2 * g + 2],
                    "client_ids": clients,
                    "started_on": "2026-04-01",
                },
                headers=headers,
            )
        )
        groups.append((group["id"], clients))

    attended: dict[str, set[int]] = {c: set() for c in enrolments}
    services = 0
    for g, (group_id, clients) in enumerate(groups):
        path = f"/v1/practice-groups/{group_id}/sessions"
        await _ok(  # the pre-group sessions are individual: not group activities
            await training_client.post(
                path,
                json={
                    "number": 0,
                    "phase": "pre_group",
                    "held_on": _held_on(g, 0),
                    "attended_client_ids": clients,
                },
                headers=headers,
            )
        )
        for number in GROUP_SESSIONS:
            present = [c for i, c in enumerate(clients) if i != number % len(clients)]
            held = await _ok(
                await alice.post(
                    "/v1/group-activities",
                    {
                        "activity_code": "ipt_group_session",
                        "activity_date": _held_on(g, number),
                        "attendee_ids": present,
                        "protocol_session": number,
                    },
                )
            )
            services += len(present)
            for c in present:
                attended[c].add(number)
            phase = {1: "initial", 8: "termination"}.get(number, "middle")
            await _ok(
                await training_client.post(
                    path,
                    json={
                        "number": number,
                        "phase": phase,
                        "held_on": _held_on(g, number),
                        "group_session_id": held["id"],
                        "recording_ref": f"rec/{g}/{number}.m4a",
                        "recording_sha256": SHA,
                    },
                    headers=headers,
                )
            )
        await _ok(
            await training_client.post(
                f"{path}/1/fidelity-reviews",
                json={
                    "reviewed_on": _held_on(g, 1),
                    "ratings": dict.fromkeys(FIDELITY_ITEMS, 2),
                },
                headers=headers,
            )
        )

    for client, enrolment in enrolments.items():
        read = await _ok(await alice.get(f"/v1/enrolments/{enrolment}"))
        assert set(read["sessions_attended"]) == attended[client]
        assert read["completed"] is (len(attended[client]) / 9 >= 0.7)
    # a Group IPT session outside practice, of two other clients
    others = [(await make_beneficiary(alice))["id"] for _ in range(2)]
    await _ok(
        await alice.post(
            "/v1/group-activities",
            {
                "activity_code": "ipt_group_session",
                "activity_date": "2026-04-20",
                "attendee_ids": others,
            },
        )
    )

    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)
    year = {"start": "2026-01-01", "end": "2026-12-31"}
    sessions = await values(
        reporting_client, reader, "supervised_practice_sessions", **year
    )
    assert sessions["total"]["value"] == 36
    reached = await values(
        reporting_client, reader, "practice_clients_reached", **year, by="activity"
    )
    assert reached["total"]["value"] == 33
    assert by_value(reached) == {"ipt_group_session": 33}
    people = await values(
        reporting_client, reader, "people_reached", **year, by="activity"
    )
    assert by_value(people)["ipt_group_session"] == 35  # the 33 once, and 2
    delivered = await values(
        reporting_client, reader, "services_delivered", **year, by="activity"
    )
    assert by_value(delivered)["ipt_group_session"] == services + 2
    held = await values(reporting_client, reader, "group_sessions_held", **year)
    assert held["total"]["value"] == 33  # the 32 group sessions once, and the other one

    # certification: refused while supervision hours are missing
    certify = f"/v1/cohorts/{cohort}/certify"
    practising = facilitators[:8]
    refused = await training_client.post(
        certify, json={"on": "2026-05-01", "trainee_ids": practising}, headers=headers
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    unmet = {(e["loc"][2], e["msg"]) for e in refused.json()["errors"]}
    assert unmet == {(i, "supervision hours 0 < 3") for i in range(8)}
    idle = await training_client.post(
        certify,
        json={"on": "2026-05-01", "trainee_ids": [facilitators[8]]},
        headers=headers,
    )
    assert idle.status_code == 422
    assert [e["msg"] for e in idle.json()["errors"]] == [
        "supervised sessions 0 < 9",
        "mean fidelity none reviewed < 80",
        "supervision hours 0 < 3",
    ]
    supervisor = token(training_settings, uuid.UUID(alice.org.id), Role.supervisor)
    for day in ("2026-04-10", "2026-04-24"):
        await _ok(
            await training_client.post(
                "/v1/supervision-sessions",
                json={
                    "kind": "group",
                    "mode": "virtual",
                    "held_on": day,
                    "duration_minutes": 90,
                    "supervisee_trainee_ids": practising,
                },
                headers=supervisor,
            )
        )
    granted = await _ok(
        await training_client.post(
            certify,
            json={"on": "2026-05-01", "trainee_ids": practising},
            headers=headers,
        )
    )
    judged = {r["trainee_id"]: r for r in granted}
    for trainee_id in practising:
        assert judged[trainee_id]["certified"] is True
        assert judged[trainee_id]["supervised_sessions"] == 9
        assert judged[trainee_id]["mean_fidelity"] == 100.0
        assert judged[trainee_id]["supervision_hours"] == 3.0
    assert judged[facilitators[8]]["certified"] is False


async def test_only_your_own_group_session_links(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    alice: Caller,
    bob: Caller,
    site_ids: list[str],
) -> None:
    """Another organisation's group session, one held another day, another
    attendance or one linked already: refused, nothing written."""
    clients = [(await make_beneficiary(alice))["id"] for _ in range(3)]
    held = await _ok(
        await alice.post(
            "/v1/group-activities",
            {
                "activity_code": "ipt_group_session",
                "activity_date": "2026-04-08",
                "site_id": site_ids[0],
                "attendee_ids": clients[:2],
            },
        )
    )

    async def group_of(headers: dict[str, str], people: list[str]) -> str:
        facilitator = (
            await _ok(
                await training_client.post(
                    "/v1/trainees", json=trainee(), headers=headers
                )
            )
        )["id"]
        group = await _ok(
            await training_client.post(
                "/v1/practice-groups",
                json={
                    "name": "g",
                    "facilitator_trainee_ids": [facilitator],
                    "client_ids": people,
                    "started_on": "2026-04-01",
                },
                headers=headers,
            )
        )
        return f"/v1/practice-groups/{group['id']}/sessions"

    linking = {
        "number": 1,
        "phase": "initial",
        "held_on": "2026-04-08",
        "group_session_id": held["id"],
    }
    theirs = token(training_settings, uuid.UUID(bob.org.id), Role.trainer)
    foreign = await training_client.post(
        await group_of(theirs, [(await make_beneficiary(bob))["id"]]),
        json=linking,
        headers=theirs,
    )
    assert foreign.status_code == 422, foreign.text
    assert foreign.json()["errors"][0]["loc"] == ["body", "group_session_id"]

    mine = token(training_settings, uuid.UUID(alice.org.id), Role.trainer)
    path = await group_of(mine, clients)
    other_day = await training_client.post(
        path, json={**linking, "held_on": "2026-04-09"}, headers=mine
    )
    assert other_day.status_code == 422
    other_people = await training_client.post(
        path, json={**linking, "attended_client_ids": clients}, headers=mine
    )
    assert other_people.status_code == 422
    assert other_people.json()["errors"][0]["loc"] == ["body", "attended_client_ids"]
    unlinked = await training_client.post(
        path,
        json={k: v for k, v in linking.items() if k != "group_session_id"},
        headers=mine,
    )
    assert unlinked.status_code == 422
    assert unlinked.json()["errors"][0]["loc"] == ["body", "attended_client_ids"]

    linked = await training_client.post(path, json=linking, headers=mine)
    assert linked.status_code == 201, linked.text
    again = await training_client.post(
        path, json={**linking, "number": 2, "phase": "middle"}, headers=mine
    )
    assert again.status_code == 409, again.text

    # Bob's own group session under the same id (ids are per organisation):
    # linked by Alice's session here tells nothing and refuses nothing there.
    bobs_clients = [(await make_beneficiary(bob))["id"] for _ in range(2)]
    bobs = await _ok(
        await bob.post(
            "/v1/group-activities",
            {
                "id": held["id"],
                "activity_code": "ipt_group_session",
                "activity_date": "2026-04-08",
                "site_id": site_ids[0],
                "attendee_ids": bobs_clients,
            },
        )
    )
    assert bobs["id"] == held["id"]
    bobs_link = await training_client.post(
        await group_of(theirs, bobs_clients), json=linking, headers=theirs
    )
    assert bobs_link.status_code == 201, bobs_link.text


async def test_a_protocol_session_must_be_a_group_session_of_the_activity(
    alice: Caller,
) -> None:
    """Session 0 is Group IPT's individual pre-group session, 9 none: both
    refused, nothing written; session 1 counts once, however often held."""
    person = await make_beneficiary(alice)
    enrolment = await enrol(alice, person, "ipt_group")
    for number in (0, 9):
        r = await alice.post(
            "/v1/group-activities",
            {
                "activity_code": "ipt_group_session",
                "activity_date": "2026-04-08",
                "attendee_ids": [person["id"]],
                "protocol_session": number,
            },
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"] == ["body", "protocol_session"]
    path = f"/v1/enrolments/{enrolment['id']}"
    assert (await _ok(await alice.get(path)))["sessions_attended"] == []
    assert (await _ok(await alice.get("/v1/group-activities")))["items"] == []
    body = {
        "activity_code": "ipt_group_session",
        "activity_date": "2026-04-08",
        "attendee_ids": [person["id"]],
        "protocol_session": 1,
    }
    await _ok(await alice.post("/v1/group-activities", body))
    again = await _ok(
        await alice.post(
            "/v1/group-activities", {**body, "activity_date": "2026-04-15"}
        )
    )
    assert again["served_total"] == 1  # served again; session 1 counted once
    read = await _ok(await alice.get(path))
    assert read["sessions_attended"] == [1]
    assert read["version"] == 2


async def test_enrolments_follow_only_within_the_recorders_scope(
    alice: Caller, issue: Any, orgs: Any, site_ids: list[str]
) -> None:
    """A worker limited to one site cannot put a person registered at
    another on a group session's attendance, so that person's enrolment
    does not follow it; at the person's site it does."""
    person = await make_beneficiary(alice, site_id=site_ids[0])
    enrolment = await enrol(alice, person, "ipt_group")
    session = {
        "activity_code": "ipt_group_session",
        "activity_date": "2026-04-08",
        "attendee_ids": [person["id"]],
        "protocol_session": 1,
    }
    outside = issue(orgs["a"], Role.case_worker, sites=[site_ids[1]])
    refused = await outside.post(
        "/v1/group-activities", {**session, "site_id": site_ids[1]}
    )
    assert refused.status_code == 422, refused.text
    path = f"/v1/enrolments/{enrolment['id']}"
    assert (await _ok(await alice.get(path)))["sessions_attended"] == []
    inside = issue(orgs["a"], Role.case_worker, sites=[site_ids[0]])
    await _ok(
        await inside.post("/v1/group-activities", {**session, "site_id": site_ids[0]})
    )
    assert (await _ok(await alice.get(path)))["sessions_attended"] == [1]


async def test_another_organisation_cannot_link_or_count_into_yours(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    issue: Any,
    orgs: Any,
    alice: Caller,
    bob: Caller,
    site_ids: list[str],
) -> None:
    """Ids are per organisation: Bob's practice session linked to his own
    group session under the id of Alice's adds nothing to Alice's clients
    reached through practice, and Bob's practice under Alice's cohort and
    trainee ids adds nothing to her cohort's results."""
    mine = token(training_settings, uuid.UUID(alice.org.id), Role.trainer)
    theirs = token(training_settings, uuid.UUID(bob.org.id), Role.trainer)
    cohort_id, trainees = await _cohort(training_client, mine, 1)
    facilitator = trainees[0]
    alices = [(await make_beneficiary(alice))["id"] for _ in range(2)]
    held = await _ok(
        await alice.post(
            "/v1/group-activities",
            {
                "activity_code": "ipt_group_session",
                "activity_date": "2026-04-08",
                "site_id": site_ids[0],
                "attendee_ids": alices,
            },
        )
    )
    bobs = [(await make_beneficiary(bob))["id"] for _ in range(2)]
    await _ok(
        await bob.post(
            "/v1/group-activities",
            {
                "id": held["id"],
                "activity_code": "ipt_group_session",
                "activity_date": "2026-04-08",
                "site_id": site_ids[0],
                "attendee_ids": bobs,
            },
        )
    )
    # Bob's own trainee and cohort under Alice's ids, and a group of his.
    await _ok(
        await training_client.post(
            "/v1/trainees", json=trainee(id=facilitator), headers=theirs
        )
    )
    course = await _ok(
        await training_client.post(
            "/v1/courses",
            json={
                "title": "IPT-G (Bob)",
                "approach": "ipt_g",
                "level": "foundational",
                "planned_hours": 10,
            },
            headers=theirs,
        )
    )
    await _ok(
        await training_client.post(
            "/v1/cohorts",
            json={
                "id": cohort_id,
                "course_id": course["id"],
                "title": "Bob's",
                "starts_on": "2026-03-01",
                "ends_on": "2026-03-10",
                "modality": "online",
            },
            headers=theirs,
        )
    )
    group = await _ok(
        await training_client.post(
            "/v1/practice-groups",
            json={
                "name": "Bob's group",
                "cohort_id": cohort_id,
                "facilitator_trainee_ids": [facilitator],
                "client_ids": bobs,
                "started_on": "2026-04-01",
            },
            headers=theirs,
        )
    )
    linked = await training_client.post(
        f"/v1/practice-groups/{group['id']}/sessions",
        json={
            "number": 1,
            "phase": "initial",
            "held_on": "2026-04-08",
            "group_session_id": held["id"],
        },
        headers=theirs,
    )
    assert linked.status_code == 201, linked.text

    results = await training_client.get(
        f"/v1/cohorts/{cohort_id}/results", headers=mine
    )
    assert results.status_code == 200, results.text
    row = next(r for r in results.json()["items"] if r["trainee_id"] == facilitator)
    assert row["supervised_sessions"] == 0, row

    await catch_up()
    year = {"start": "2026-01-01", "end": "2026-12-31"}
    for org, reached in ((orgs["a"], 0), (orgs["b"], 2)):
        reader = issue(org, Role.me_officer)
        found = await values(
            reporting_client, reader, "practice_clients_reached", **year
        )
        assert found["total"]["value"] == reached, (org, found["total"])
