"""Teams, projects and partnerships: who may set them up and read them,
Idempotency-Key, If-Match, problem+json on bad input (nothing written), and
the partnership rule for rolling a partner's records up to its lead."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from tests.beneficiary.api import (
    count_rows,
    make_beneficiary,
    record_service,
    rogue_partner,
)
from tests.callers import Caller, Org

PROBLEM = "application/problem+json"
PROJECT = {
    "name": "Resilience",
    "donor": "A ministry",
    "start": "2026-01-01",
    "end": "2026-06-30",
    "targets": [{"indicator": "people_reached", "target": 100}],
}


def manager_of(issue: Any, org: Org) -> Caller:
    caller: Caller = issue(org, Role.programme_manager)
    return caller


class TestTeams:
    async def test_create_replay_edit(
        self, issue: Any, orgs: dict[str, Org], beneficiary_engine: AsyncEngine
    ) -> None:
        manager = manager_of(issue, orgs["a"])
        key = {"Idempotency-Key": "team-1"}
        body = {"name": "Duhok", "kind": "governorate"}
        first = await manager.post("/v1/teams", body, headers=key)
        again = await manager.post("/v1/teams", body, headers=key)
        assert first.status_code == again.status_code == 201, first.text
        assert first.json()["id"] == again.json()["id"]
        assert first.headers["ETag"] == '"1"'
        assert await count_rows(beneficiary_engine, "team") == 1
        team = first.json()["id"]

        r = await manager.patch(f"/v1/teams/{team}", {"name": "Dohuk"})
        assert r.status_code == 428
        assert r.headers["content-type"] == PROBLEM
        r = await manager.patch(
            f"/v1/teams/{team}", {"name": "Dohuk"}, headers={"If-Match": '"1"'}
        )
        assert r.status_code == 200, r.text
        assert (r.json()["name"], r.headers["ETag"]) == ("Dohuk", '"2"')
        r = await manager.patch(
            f"/v1/teams/{team}", {"active": False}, headers={"If-Match": '"1"'}
        )
        assert r.status_code == 409
        assert r.json()["current"]["name"] == "Dohuk"

    async def test_bad_input_is_a_problem_and_writes_nothing(
        self, issue: Any, orgs: dict[str, Org], beneficiary_engine: AsyncEngine
    ) -> None:
        manager = manager_of(issue, orgs["a"])
        for body in (
            {"name": "X", "kind": "battalion"},
            {"name": "", "kind": "mobile"},
            {"name": "X", "kind": "mobile", "governorate_id": orgs["a"].id},
        ):
            r = await manager.post("/v1/teams", body)
            assert r.status_code == 422, r.text
            assert r.headers["content-type"] == PROBLEM
        assert (
            await manager.post("/v1/teams", {"name": "M", "kind": "mobile"})
        ).is_success
        r = await manager.post("/v1/teams", {"name": "M", "kind": "mobile"})
        assert r.status_code == 409
        assert await count_rows(beneficiary_engine, "team") == 1

    async def test_who_may_set_up_and_read(
        self, issue: Any, orgs: dict[str, Org], site_ids: list[str]
    ) -> None:
        manager = manager_of(issue, orgs["a"])
        team = (await manager.post("/v1/teams", {"name": "M", "kind": "mobile"})).json()
        for caller in (
            issue(orgs["a"], Role.case_worker),
            issue(orgs["a"], Role.programme_manager, sites=[site_ids[0]]),
            issue(orgs["a"], Role.programme_manager, team=team["id"]),
            issue(orgs["a"], Role.trainer),
        ):
            r = await caller.post("/v1/teams", {"name": "Z", "kind": "mobile"})
            assert r.status_code == 403, r.text
        for caller in (
            issue(orgs["a"], Role.case_worker),
            issue(orgs["a"], Role.auditor),
            issue(orgs["a"], Role.me_officer),
        ):
            assert (await caller.get(f"/v1/teams/{team['id']}")).status_code == 200
        other = issue(orgs["b"], Role.programme_manager)
        assert (await other.get(f"/v1/teams/{team['id']}")).status_code == 404
        assert (await other.get("/v1/teams")).json()["items"] == []
        r = await other.patch(
            f"/v1/teams/{team['id']}", {"name": "Mine"}, headers={"If-Match": '"1"'}
        )
        assert r.status_code == 404

    async def test_records_name_an_active_team_of_the_organisation(
        self, issue: Any, orgs: dict[str, Org], alice: Caller
    ) -> None:
        manager = manager_of(issue, orgs["a"])
        team = (await manager.post("/v1/teams", {"name": "M", "kind": "mobile"})).json()
        foreign = (
            await manager_of(issue, orgs["b"]).post(
                "/v1/teams", {"name": "B", "kind": "mobile"}
            )
        ).json()
        person = await make_beneficiary(alice)
        record = await record_service(
            alice, person["id"], team_id=team["id"], delivery_mode="mobile_team"
        )
        assert (record["team_id"], record["delivery_mode"]) == (
            team["id"],
            "mobile_team",
        )
        r = await alice.post(
            "/v1/service-records",
            {
                "beneficiary_id": person["id"],
                "activity_code": "individual_counselling",
                "service_date": "2026-02-01",
                "team_id": foreign["id"],
            },
        )
        assert r.status_code == 422, r.text
        await manager.patch(
            f"/v1/teams/{team['id']}", {"active": False}, headers={"If-Match": '"1"'}
        )
        r = await alice.post(
            "/v1/anonymous-services",
            {
                "activity_code": "awareness_session",
                "service_date": "2026-02-01",
                "counts": [{"count": 3}],
                "team_id": team["id"],
            },
        )
        assert r.status_code == 422, r.text


class TestProjects:
    async def test_create_read_edit(
        self, issue: Any, orgs: dict[str, Org], beneficiary_engine: AsyncEngine
    ) -> None:
        manager = manager_of(issue, orgs["a"])
        body = {**PROJECT, "partner_organisation_ids": [orgs["partner"].id]}
        key = {"Idempotency-Key": "project-1"}
        first = await manager.post("/v1/projects", body, headers=key)
        again = await manager.post("/v1/projects", body, headers=key)
        assert first.status_code == again.status_code == 201, first.text
        assert first.json()["id"] == again.json()["id"]
        assert await count_rows(beneficiary_engine, "project") == 1
        project = first.json()["id"]
        # The partner reads it; another organisation does not see it.
        partner = issue(orgs["partner"], Role.case_worker)
        assert (await partner.get(f"/v1/projects/{project}")).status_code == 200
        listed = await partner.get("/v1/projects")
        assert [p["id"] for p in listed.json()["items"]] == [project]
        other = issue(orgs["b"], Role.programme_manager)
        assert (await other.get(f"/v1/projects/{project}")).status_code == 404
        assert (await other.get("/v1/projects")).json()["items"] == []
        # Only the lead edits it, under If-Match.
        partner_manager = manager_of(issue, orgs["partner"])
        r = await partner_manager.patch(
            f"/v1/projects/{project}", {"donor": "X"}, headers={"If-Match": '"1"'}
        )
        assert r.status_code == 404
        r = await manager.patch(f"/v1/projects/{project}", {"donor": "X"})
        assert r.status_code == 428
        r = await manager.patch(
            f"/v1/projects/{project}",
            {"end": "2026-09-30", "targets": []},
            headers={"If-Match": '"1"'},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["end"], r.json()["targets"], r.json()["version"]) == (
            "2026-09-30",
            [],
            2,
        )
        async with beneficiary_engine.connect() as conn:
            from sqlalchemy import text

            saved = await conn.execute(
                text("SELECT count(*) FROM outbox_event WHERE type = 'project.saved'")
            )
            assert saved.scalar_one() == 2

    async def test_bad_input_is_a_problem_and_writes_nothing(
        self, issue: Any, orgs: dict[str, Org], beneficiary_engine: AsyncEngine
    ) -> None:
        manager = manager_of(issue, orgs["a"])
        for change in (
            {"end": "2025-12-31"},
            {"partner_organisation_ids": [orgs["a"].id]},
            {"partner_organisation_ids": ["00000000-0000-0000-0000-00000000000f"]},
            {"location_ids": [orgs["a"].id]},
            {"targets": [{"indicator": "People!", "target": 1}]},
            {"targets": [{"indicator": "x", "target": 0}]},
            {
                "targets": [
                    {"indicator": "x", "target": 1},
                    {"indicator": "x", "target": 2},
                ]
            },
        ):
            r = await manager.post("/v1/projects", {**PROJECT, **change})
            assert r.status_code == 422, (change, r.text)
            assert r.headers["content-type"] == PROBLEM
        assert await count_rows(beneficiary_engine, "project") == 0

    async def test_records_name_a_running_project_they_take_part_in(
        self, issue: Any, orgs: dict[str, Org], alice: Caller, bob: Caller
    ) -> None:
        project = (
            await manager_of(issue, orgs["a"]).post("/v1/projects", PROJECT)
        ).json()["id"]
        person = await make_beneficiary(alice)
        record = await record_service(alice, person["id"], project_id=project)
        assert record["project_id"] == project
        for caller, day in ((alice, "2025-12-31"), (bob, "2026-02-01")):
            someone = await make_beneficiary(caller)
            r = await caller.post(
                "/v1/service-records",
                {
                    "beneficiary_id": someone["id"],
                    "activity_code": "individual_counselling",
                    "service_date": day,
                    "project_id": project,
                },
            )
            assert r.status_code == 422, r.text
            assert r.json()["errors"][0]["loc"] == ["body", "project_id"]


class TestPartnerships:
    async def test_partner_records_count_under_the_lead_only_inside_one(
        self, issue: Any, orgs: dict[str, Org]
    ) -> None:
        lead = orgs["a"]
        partner = await rogue_partner(issue, lead, "CSO")
        worker = issue(partner, Role.case_worker)
        person = await make_beneficiary(worker)
        before = await record_service(worker, person["id"], service_date="2026-02-01")
        assert before["delivered_through"] == "direct"  # only asked, not agreed
        manager = manager_of(issue, lead)
        r = await manager.post(
            "/v1/partnerships",
            {
                "partner_organisation_id": partner.id,
                "start": "2026-03-01",
                "end": "2026-03-31",
                "activity_codes": ["individual_counselling"],
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["origin"] == "agreement"
        approved = (await manager.get(f"/v1/organisations/{partner.id}")).json()
        assert approved["lead_organisation_id"] == lead.id  # agreeing approved it
        through = {}
        for day in ("2026-02-28", "2026-03-01", "2026-03-31", "2026-04-01"):
            record = await record_service(worker, person["id"], service_date=day)
            through[day] = (record["delivered_through"], record["lead_organisation_id"])
        assert through == {
            "2026-02-28": ("direct", partner.id),
            "2026-03-01": ("partner", lead.id),
            "2026-03-31": ("partner", lead.id),
            "2026-04-01": ("direct", partner.id),
        }
        other_activity = await record_service(
            worker,
            person["id"],
            service_date="2026-03-10",
            activity_code="pfa",
        )
        assert other_activity["delivered_through"] == "direct"

    async def test_an_approval_is_open_ended_until_the_lead_ends_it(
        self, issue: Any, orgs: dict[str, Org]
    ) -> None:
        lead_manager = manager_of(issue, orgs["a"])
        listed = (await lead_manager.get("/v1/partnerships")).json()["items"]
        assert [(p["origin"], p["start"], p["end"]) for p in listed] == [
            ("lead_approval", None, None)
        ]
        worker = issue(orgs["partner"], Role.case_worker)
        person = await make_beneficiary(worker)
        early = await record_service(worker, person["id"], service_date="2026-02-01")
        assert early["delivered_through"] == "partner"
        partnership = listed[0]["id"]
        r = await lead_manager.patch(
            f"/v1/partnerships/{partnership}",
            {"end": "2026-02-28"},
            headers={"If-Match": '"1"'},
        )
        assert r.status_code == 200, r.text
        late = await record_service(worker, person["id"], service_date="2026-03-01")
        assert late["delivered_through"] == "direct"
        # The partner reads it but cannot change it.
        partner_manager = manager_of(issue, orgs["partner"])
        assert (
            await partner_manager.get(f"/v1/partnerships/{partnership}")
        ).status_code == 200
        r = await partner_manager.patch(
            f"/v1/partnerships/{partnership}",
            {"end": None},
            headers={"If-Match": '"2"'},
        )
        assert r.status_code == 403

    async def test_who_may_agree_one(
        self, issue: Any, orgs: dict[str, Org], beneficiary_engine: AsyncEngine
    ) -> None:
        before = await count_rows(beneficiary_engine, "partnership")
        body = {
            "partner_organisation_id": orgs["b"].id,
            "start": "2026-01-01",
            "end": "2026-02-01",
        }
        r = await manager_of(issue, orgs["a"]).post("/v1/partnerships", body)
        assert r.status_code == 403  # b never asked a to lead it
        r = await manager_of(issue, orgs["b"]).post(
            "/v1/partnerships", {**body, "partner_organisation_id": orgs["partner"].id}
        )
        assert r.status_code == 403
        r = await issue(orgs["a"], Role.case_worker).post(
            "/v1/partnerships", {**body, "partner_organisation_id": orgs["partner"].id}
        )
        assert r.status_code == 403
        project = (
            await manager_of(issue, orgs["a"]).post("/v1/projects", PROJECT)
        ).json()["id"]
        for change in (
            {"end": "2025-01-01"},
            {"project_id": project},  # the partner is not in the project
            {"activity_codes": ["juggling"]},
        ):
            r = await manager_of(issue, orgs["a"]).post(
                "/v1/partnerships",
                {**body, "partner_organisation_id": orgs["partner"].id, **change},
            )
            assert r.status_code == 422, (change, r.text)
            assert r.headers["content-type"] == PROBLEM
        assert await count_rows(beneficiary_engine, "partnership") == before


async def test_a_partnership_covers_its_places_only(
    issue: Any, orgs: dict[str, Org], alice: Caller
) -> None:
    sites = (
        await alice.get("/v1/locations", params={"level": "site", "limit": 500})
    ).json()["items"]

    async def governorate_of(site: dict[str, Any]) -> str:
        place = site
        while place["level"] != "governorate":
            place = (await alice.get(f"/v1/locations/{place['parent_id']}")).json()
        return str(place["id"])

    by_governorate: dict[str, str] = {}
    for site in sites:
        by_governorate.setdefault(await governorate_of(site), site["id"])
        if len(by_governorate) == 2:
            break
    (covered_gov, inside), (_, outside) = list(by_governorate.items())
    partner = await rogue_partner(issue, orgs["a"], "CSO places")
    r = await manager_of(issue, orgs["a"]).post(
        "/v1/partnerships",
        {
            "partner_organisation_id": partner.id,
            "start": "2026-01-01",
            "end": "2026-12-31",
            "location_ids": [covered_gov],
        },
    )
    assert r.status_code == 201, r.text
    worker = issue(partner, Role.case_worker)
    person = await make_beneficiary(worker)
    through = [
        (await record_service(worker, person["id"], site_id=site))["delivered_through"]
        for site in (inside, outside, None)
    ]
    assert through == ["partner", "direct", "direct"]


async def test_a_group_activity_carries_its_team_and_project(
    issue: Any, orgs: dict[str, Org], alice: Caller
) -> None:
    manager = manager_of(issue, orgs["a"])
    team = (await manager.post("/v1/teams", {"name": "M", "kind": "mobile"})).json()
    project = (await manager.post("/v1/projects", PROJECT)).json()["id"]
    person = await make_beneficiary(alice)
    tags = {
        "team_id": team["id"],
        "delivery_mode": "outreach_visit",
        "project_id": project,
    }
    r = await alice.post(
        "/v1/group-activities",
        {
            "activity_code": "caregiver_session",
            "activity_date": "2026-03-01",
            "attendee_ids": [person["id"]],
            "anonymous_attendees": [{"count": 4}],
            **tags,
        },
    )
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in tags} == tags
    [record] = (
        await alice.get("/v1/service-records", params={"beneficiary_id": person["id"]})
    ).json()["items"]
    assert {k: record[k] for k in tags} == tags


async def test_setting_up_the_programme_is_in_the_audit_trail(
    issue: Any, orgs: dict[str, Org]
) -> None:
    """Teams, projects and partnerships are the lead's acts: each write
    leaves one row, with the reason given; a replay and a refused write
    leave none."""
    lead = orgs["a"]
    manager: Caller = issue(lead, Role.programme_manager, subject="maryam")
    why = {"X-Access-Reason": "setting up the 2026 programme"}

    async def write(method: str, path: str, body: Any, **headers: str) -> str:
        send = manager.post if method == "POST" else manager.patch
        r = await send(path, body, headers={**why, **headers})
        assert r.status_code in (200, 201), r.text
        return str(r.json()["id"])

    team = await write("POST", "/v1/teams", {"name": "Duhok", "kind": "governorate"})
    partner = await rogue_partner(issue, lead, "CSO")
    body = {**PROJECT, "partner_organisation_ids": [partner.id]}
    key = {"Idempotency-Key": "project-once"}
    project = await write("POST", "/v1/projects", body, **key)
    assert await write("POST", "/v1/projects", body, **key) == project  # replay
    partnership = await write(
        "POST",
        "/v1/partnerships",
        {
            "partner_organisation_id": partner.id,
            "project_id": project,
            "start": "2026-01-01",
            "end": "2026-06-30",
        },
    )
    await write("PATCH", f"/v1/teams/{team}", {"name": "Dohuk"}, **{"If-Match": '"1"'})
    await write(
        "PATCH", f"/v1/projects/{project}", {"donor": "FM"}, **{"If-Match": '"1"'}
    )
    await write(
        "PATCH",
        f"/v1/partnerships/{partnership}",
        {"end": "2026-03-31"},
        **{"If-Match": '"1"'},
    )
    refused = await manager.patch(
        f"/v1/teams/{team}", {"name": "Stale"}, headers={"If-Match": '"1"'}
    )
    assert refused.status_code == 409
    auditor = issue(lead, Role.auditor)
    r = await auditor.get("/v1/audit", params={"limit": 100})
    assert r.status_code == 200, r.text
    trail = sorted(
        (e["subject"], e["action"], e["entity_type"], e["entity_id"], e["reason"])
        for e in r.json()["items"]
        if e["subject"] == "maryam"
    )
    reason = why["X-Access-Reason"]
    assert trail == sorted(
        [
            ("maryam", "create", "team", team, reason),
            ("maryam", "update", "team", team, reason),
            ("maryam", "create", "project", project, reason),
            ("maryam", "update", "project", project, reason),
            ("maryam", "create", "partnership", partnership, reason),
            ("maryam", "update", "partnership", partnership, reason),
        ]
    )
