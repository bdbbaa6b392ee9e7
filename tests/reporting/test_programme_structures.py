"""A lead agency with three governorate teams and a mobile team, two
partners under partnerships for part of a project's period, and the
figures each of them reads: by team, by delivery mode, by project, direct
against partner, and the project's actuals against its targets; a
team-scoped user sees only its team (issue 15)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from shared.auth import Role
from tests.beneficiary.api import PLATFORM, make_beneficiary, record_service
from tests.callers import Caller, Org
from tests.reporting.helpers import by_value, values
from tests.training.api import trainee


@dataclass
class Programme:
    lead: Org
    partners: list[Org]
    teams: dict[str, str]
    project: str
    records: dict[str, list[str]]
    people: dict[str, list[str]]


async def _organisations(issue: Any) -> tuple[Org, list[Org]]:
    platform = issue(PLATFORM, Role.platform_admin)
    r = await platform.post(
        "/v1/organisations", {"name": "Lead agency", "type": "international_ngo"}
    )
    assert r.status_code == 201, r.text
    lead = Org(r.json()["id"], "Lead agency")
    partners = []
    for name in ("CSO one", "CSO two"):
        r = await platform.post(
            "/v1/organisations",
            {"name": name, "type": "cso", "lead_organisation_id": lead.id},
        )
        assert r.status_code == 201, r.text
        partners.append(Org(r.json()["id"], name))
    return lead, partners


async def build_programme(issue: Any) -> Programme:
    lead, partners = await _organisations(issue)
    manager: Caller = issue(lead, Role.programme_manager)
    teams = {}
    for name, kind in [
        ("Duhok", "governorate"),
        ("Ninewa", "governorate"),
        ("Erbil", "governorate"),
        ("Mobile 1", "mobile"),
    ]:
        r = await manager.post("/v1/teams", {"name": name, "kind": kind})
        assert r.status_code == 201, r.text
        teams[name] = r.json()["id"]
    r = await manager.post(
        "/v1/projects",
        {
            "name": "Community resilience",
            "donor": "A foreign ministry",
            "grant_code": "FM-2026-07",
            "start": "2026-01-01",
            "end": "2026-06-30",
            "partner_organisation_ids": [p.id for p in partners],
            "targets": [
                {"indicator": "services_delivered", "target": 20},
                {"indicator": "people_reached", "target": 10},
                {"indicator": "people_reached", "target": 5, "dims": {"sex": "male"}},
                {"indicator": "new_beneficiaries", "target": 3},
            ],
        },
    )
    assert r.status_code == 201, r.text
    project = r.json()["id"]
    for partner, start, end in [
        (partners[0], "2026-01-01", "2026-03-31"),
        (partners[1], "2026-02-01", "2026-06-30"),
    ]:
        r = await manager.post(
            "/v1/partnerships",
            {
                "partner_organisation_id": partner.id,
                "project_id": project,
                "start": start,
                "end": end,
            },
        )
        assert r.status_code == 201, r.text

    records: dict[str, list[str]] = {}
    people: dict[str, list[str]] = {}

    async def serve(caller: Caller, unit: str, dates: list[str], **tags: Any) -> None:
        person = await make_beneficiary(caller)
        people.setdefault(unit, []).append(person["id"])
        for day in dates:
            record = await record_service(
                caller, person["id"], service_date=day, **tags
            )
            records.setdefault(unit, []).append(record["id"])

    centre = {"delivery_mode": "centre", "project_id": project}
    for unit, served in [
        ("Duhok", [["2026-02-01"], ["2026-02-02"]]),
        ("Ninewa", [["2026-02-03", "2026-03-03"]]),
        ("Erbil", [["2026-02-04"]]),
        ("Mobile 1", [["2026-02-05"], ["2026-02-06"]]),
    ]:
        worker = issue(lead, Role.case_worker, team=teams[unit])
        for dates in served:
            if unit == "Erbil":
                await serve(worker, unit, dates, delivery_mode="centre")
            elif unit == "Mobile 1":
                mobile = {"delivery_mode": "mobile_team", "project_id": project}
                await serve(worker, unit, dates, **mobile)
            else:
                await serve(worker, unit, dates, **centre)
    # Each partner: one service inside its partnership, one outside it.
    await serve(
        issue(partners[0], Role.case_worker),
        "CSO one",
        ["2026-02-15", "2026-05-10"],
        project_id=project,
    )
    await serve(
        issue(partners[1], Role.case_worker),
        "CSO two",
        ["2026-01-15", "2026-03-01"],
        project_id=project,
    )
    return Programme(lead, partners, teams, project, records, people)


async def test_a_lead_its_teams_and_partners_each_count_what_is_theirs(
    issue: Any, reporting_client: httpx.AsyncClient, catch_up: Any
) -> None:
    programme = await build_programme(issue)
    await catch_up()
    reader = issue(programme.lead, Role.me_officer)
    team = {v: k for k, v in programme.teams.items()}

    by_team = await values(reporting_client, reader, "services_delivered", by="team")
    assert {team.get(k, k): v["value"] for k, v in by_team_cells(by_team).items()} == {
        "Duhok": 2,
        "Ninewa": 2,
        "Erbil": 1,
        "Mobile 1": 2,
        "unknown": 2,  # the partners' services under partnerships
    }
    assert by_team["total"]["value"] == 9  # not the partners' 2 outside them
    assert by_team["labels"]["team"] == {  # reports name the teams
        **team,
        "unknown": "Not recorded",  # every code of the cells has its words
    }

    modes = await values(
        reporting_client, reader, "services_delivered", by="delivery_mode"
    )
    assert by_value(modes) == {"centre": 5, "mobile_team": 2, "unknown": 2}

    projects = await values(reporting_client, reader, "people_reached", by="project")
    assert by_value(projects) == {programme.project: 7, "unknown": 1}
    assert projects["labels"]["project"] == {
        programme.project: "Community resilience",
        "unknown": "Not recorded",
    }

    through = await values(
        reporting_client, reader, "services_delivered", by="delivered_through"
    )
    assert by_value(through) == {"direct": 7, "partner": 2}

    filtered = await values(
        reporting_client,
        reader,
        "services_delivered",
        by="team",
        project=programme.project,
        delivery_mode="centre",
    )
    assert filtered["total"]["value"] == 4
    assert set(by_value(filtered)) == {
        programme.teams["Duhok"],
        programme.teams["Ninewa"],
    }

    # A partner sees its own work, split by whom it counted under.
    partner_reader = issue(programme.partners[0], Role.me_officer)
    own = await values(
        reporting_client, partner_reader, "services_delivered", by="lead_organisation"
    )
    assert by_value(own) == {programme.lead.id: 1, programme.partners[0].id: 1}

    # A team-scoped reader's figures are its team's.
    duhok = issue(programme.lead, Role.me_officer, team=programme.teams["Duhok"])
    mine = await values(reporting_client, duhok, "services_delivered", by="team")
    assert by_value(mine) == {programme.teams["Duhok"]: 2}
    assert mine["labels"]["team"] == {programme.teams["Duhok"]: "Duhok"}

    # Group sessions carry their team, delivery mode and project too: the
    # mobile team's outreach sessions under the project, Duhok's at its centre.
    for unit, mode, project, day in [
        ("Mobile 1", "outreach_visit", programme.project, "2026-02-10"),
        ("Mobile 1", "outreach_visit", programme.project, "2026-02-17"),
        ("Duhok", "centre", None, "2026-02-11"),
    ]:
        worker = issue(programme.lead, Role.case_worker, team=programme.teams[unit])
        r = await worker.post(
            "/v1/group-activities",
            {
                "activity_code": "awareness_session",
                "activity_date": day,
                "anonymous_attendees": [
                    {"sex": "female", "age_group": "adult", "count": 6}
                ],
                "delivery_mode": mode,
                "project_id": project,
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["team_id"] == programme.teams[unit]
    await catch_up()
    held = await values(reporting_client, reader, "group_sessions_held", by="team")
    assert {team[k]: v for k, v in by_value(held).items()} == {
        "Mobile 1": 2,
        "Duhok": 1,
    }
    held = await values(
        reporting_client, reader, "group_sessions_held", by="delivery_mode,project"
    )
    assert by_value(held) == {
        ("outreach_visit", programme.project): 2,
        ("centre", "unknown"): 1,
    }
    mine = await values(reporting_client, duhok, "group_sessions_held", by="team")
    assert by_value(mine) == {programme.teams["Duhok"]: 1}

    # A meeting's participants break down by team, delivery mode and project
    # too, and a team-scoped reader counts only its team's.
    for unit, count in [("Duhok", 5), ("Ninewa", 4)]:
        worker = issue(programme.lead, Role.case_worker, team=programme.teams[unit])
        r = await worker.post(
            "/v1/group-activities",
            {
                "activity_code": "coordination_meeting",
                "activity_date": "2026-02-12",
                "anonymous_attendees": [
                    {"sex": "male", "age_group": "adult", "count": count}
                ],
                "delivery_mode": "centre",
                "project_id": programme.project,
            },
        )
        assert r.status_code == 201, r.text
    await catch_up()
    met = await values(
        reporting_client, reader, "meeting_participants", by="team,project"
    )
    assert {(team[t], p): v for (t, p), v in by_value(met).items()} == {
        ("Duhok", programme.project): 5,
        ("Ninewa", programme.project): 4,
    }
    assert met["labels"]["team"] == {
        programme.teams["Duhok"]: "Duhok",
        programme.teams["Ninewa"]: "Ninewa",
    }
    mine = await values(reporting_client, duhok, "meeting_participants")
    assert mine["total"]["value"] == 5


def by_team_cells(body: dict[str, Any]) -> dict[str, Any]:
    return {cell["dims"]["team"]: cell for cell in body["cells"]}


async def test_project_actuals_against_targets(
    issue: Any, reporting_client: httpx.AsyncClient, catch_up: Any
) -> None:
    programme = await build_programme(issue)
    await catch_up()
    for reader in (
        issue(programme.lead, Role.me_officer),
        issue(programme.lead, Role.programme_manager),
    ):
        r = await reporting_client.get(
            f"/v1/projects/{programme.project}/progress", headers=reader.headers()
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["start"], body["end"]) == ("2026-01-01", "2026-06-30")
        progress = {
            (t["indicator"], tuple(sorted(t["dims"].items()))): (
                t["target"],
                t["actual"],
                t["percent"],
                t["note"],
            )
            for t in body["targets"]
        }
        assert progress == {
            ("services_delivered", ()): (20, 8, 40.0, None),
            ("people_reached", ()): (10, 7, 70.0, None),
            ("people_reached", (("sex", "male"),)): (5, 0, 0.0, None),
            ("new_beneficiaries", ()): (
                3,
                None,
                None,
                "this indicator is not broken down by project",
            ),
        }
    # An integrator's key reads the targets on the indicators it was issued for.
    manager = issue(programme.lead, Role.programme_manager)
    r = await reporting_client.post(
        "/v1/api-keys",
        json={"name": "donor portal", "indicators": ["services_delivered"]},
        headers=manager.headers(),
    )
    assert r.status_code == 201, r.text
    key = {"X-API-Key": r.json()["key"]}
    r = await reporting_client.get(
        f"/v1/projects/{programme.project}/progress", headers=key
    )
    assert r.status_code == 200, r.text
    by_target = {
        (t["indicator"], tuple(t["dims"].items())): t for t in r.json()["targets"]
    }
    assert by_target[("services_delivered", ())]["actual"] == 8
    assert by_target[("people_reached", ())]["actual"] is None
    assert "not scoped" in by_target[("people_reached", ())]["note"]
    # A partner reads the project's progress over its own scope.
    partner = issue(programme.partners[1], Role.me_officer)
    r = await reporting_client.get(
        f"/v1/projects/{programme.project}/progress", headers=partner.headers()
    )
    assert r.status_code == 200, r.text
    figures = {
        t["indicator"]: t["actual"] for t in r.json()["targets"] if not t["dims"]
    }
    assert figures["services_delivered"] == 2  # both its own, inside or not
    # Anyone else: no such project.
    for caller in (
        issue(Org(str(uuid.uuid4()), "elsewhere"), Role.me_officer),
        issue(PLATFORM, Role.me_officer),
    ):
        r = await reporting_client.get(
            f"/v1/projects/{programme.project}/progress", headers=caller.headers()
        )
        assert r.status_code == 404, r.text
        assert r.headers["content-type"] == "application/problem+json"


async def test_a_team_scoped_user_sees_only_its_team(issue: Any) -> None:
    programme = await build_programme(issue)
    duhok_id, ninewa_id = programme.teams["Duhok"], programme.teams["Ninewa"]
    duhok = issue(programme.lead, Role.supervisor, team=duhok_id)
    own_people = set(programme.people["Duhok"])
    own_records = set(programme.records["Duhok"])

    listed = await duhok.get("/v1/beneficiaries")
    assert listed.status_code == 200, listed.text
    assert {p["id"] for p in listed.json()["items"]} == own_people
    records = await duhok.get("/v1/service-records")
    assert {r["id"] for r in records.json()["items"]} == own_records
    teams = await duhok.get("/v1/teams")
    assert [t["id"] for t in teams.json()["items"]] == [duhok_id]

    for path in (
        f"/v1/beneficiaries/{programme.people['Ninewa'][0]}",
        f"/v1/service-records/{programme.records['Ninewa'][0]}",
        f"/v1/teams/{ninewa_id}",
        f"/v1/service-records?beneficiary_id={programme.people['Ninewa'][0]}",
    ):
        r = await duhok.get(path)
        assert r.status_code == 404 or r.json()["items"] == [], (path, r.text)
    for path in (
        f"/v1/beneficiaries/{programme.people['Duhok'][0]}",
        f"/v1/service-records/{programme.records['Duhok'][0]}",
        f"/v1/teams/{duhok_id}",
    ):
        assert (await duhok.get(path)).status_code == 200, path

    # It records for its own team only, and cannot change the structure.
    worker = issue(programme.lead, Role.case_worker, team=duhok_id)
    person = programme.people["Duhok"][0]
    r = await worker.post(
        "/v1/service-records",
        {
            "beneficiary_id": person,
            "activity_code": "individual_counselling",
            "service_date": "2026-02-20",
            "team_id": ninewa_id,
        },
    )
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    record = await record_service(worker, person, service_date="2026-02-20")
    assert record["team_id"] == duhok_id
    manager = issue(programme.lead, Role.programme_manager, team=duhok_id)
    r = await manager.patch(
        f"/v1/teams/{duhok_id}", {"name": "Mine"}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 403, r.text


async def test_a_cohort_trained_under_the_project_counts_in_its_progress(
    linked_training: FastAPI,
    issue: Any,
    training_client: httpx.AsyncClient,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    programme = await build_programme(issue)
    manager: Caller = issue(programme.lead, Role.programme_manager)
    r = await manager.patch(
        f"/v1/projects/{programme.project}",
        {"targets": [{"indicator": "people_trained", "target": 4}]},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    trainer = {"Authorization": f"Bearer {issue(programme.lead, Role.trainer).token}"}

    async def call(path: str, body: Any, method: str = "POST") -> Any:
        r = await training_client.request(method, path, json=body, headers=trainer)
        assert r.status_code < 300, r.text
        return r.json()

    course = await call(
        "/v1/courses",
        {
            "title": "PFA",
            "approach": "pfa",
            "level": "foundational",
            "planned_hours": 6,
        },
    )
    people = [(await call("/v1/trainees", trainee()))["id"] for _ in range(3)]
    for project, day in ((programme.project, "2026-02-10"), (None, "2026-02-11")):
        cohort = await call(
            "/v1/cohorts",
            {
                "course_id": course["id"],
                "title": f"PFA {day}",
                "starts_on": day,
                "ends_on": day,
                "modality": "in_person",
                "project_id": project,
            },
        )
        assert cohort["project_id"] == project
        path = f"/v1/cohorts/{cohort['id']}"
        await call(f"{path}/enrolments", {"trainee_ids": people})
        await call(f"{path}/sessions", {"number": 1, "held_on": day, "hours": 6})
        present = people if project else people[:1]
        await call(f"{path}/sessions/1/attendance", {"present": present}, "PUT")
    await catch_up()
    reader = issue(programme.lead, Role.me_officer)
    trained = await values(reporting_client, reader, "people_trained", by="project")
    assert by_value(trained) == {programme.project: 3, "unknown": 1}
    r = await reporting_client.get(
        f"/v1/projects/{programme.project}/progress", headers=reader.headers()
    )
    [target] = r.json()["targets"]
    assert (target["target"], target["actual"], target["percent"]) == (4, 3, 75.0)
