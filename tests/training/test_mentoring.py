"""Mentoring: plans with goals on capacity domains, visits with action
points followed up under If-Match, and a trainee's erasure clearing the
mentoring text about them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.beneficiary.api import audit_trail
from tests.callers import Org
from tests.training.api import token, trainee

REASON = {"X-Access-Reason": "written request received 2026-03-01, ref DP-9"}


def plan(organisation: Org, **overrides: Any) -> dict[str, Any]:
    """A plan for ``organisation``: one the beneficiary service knows."""
    return {
        "mentored_organisation_id": organisation.id,
        "capacity_tool": "oca_mhpss@1.0",
        "starts_on": "2026-02-01",
        "ends_on": "2026-04-30",
        "goals": [{"code": "sop", "capacity_domain": "mhpss_technical"}],
        **overrides,
    }


def visit(**overrides: Any) -> dict[str, Any]:
    return {
        "held_on": "2026-02-10",
        "mode": "in_person",
        "duration_minutes": 90,
        "participants": 2,
        "topics": ["referral_pathways"],
        "observations": "The coordinator from Zakho leads the SOP.",
        "action_points": [
            {
                "description": "Adopt the SOP",
                "owner": "Coordinator",
                "due_on": "2026-02-24",
            }
        ],
        **overrides,
    }


async def test_action_points_are_followed_up_under_if_match(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    orgs: dict[str, Org],
) -> None:
    headers = token(training_settings, uuid.uuid4(), Role.supervisor)
    r = await training_client.post(
        "/v1/mentoring-plans",
        json=plan(orgs["b"], goals=[{"code": "x", "capacity_domain": "astrology"}]),
        headers=headers,
    )
    assert r.status_code == 422
    made = (
        await training_client.post(
            "/v1/mentoring-plans", json=plan(orgs["b"]), headers=headers
        )
    ).json()
    r = await training_client.post(
        f"/v1/mentoring-plans/{made['id']}/visits",
        json=visit(goal_codes=["not_a_goal"]),
        headers=headers,
    )
    assert r.status_code == 422
    seen = await training_client.post(
        f"/v1/mentoring-plans/{made['id']}/visits", json=visit(), headers=headers
    )
    assert seen.status_code == 201, seen.text
    [point] = seen.json()["action_points"]
    assert (point["status"], point["owner"]) == ("open", "Coordinator")
    path = f"/v1/action-points/{point['id']}/status"
    body = {"status": "done", "on": "2026-02-20"}
    assert (
        await training_client.post(path, json=body, headers=headers)
    ).status_code == 428
    early = {"status": "done", "on": "2026-02-01"}
    r = await training_client.post(
        path, json=early, headers={**headers, "If-Match": '"1"'}
    )
    assert r.status_code == 422
    r = await training_client.post(
        path, json=body, headers={**headers, "If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["completed_on"], r.headers["ETag"]) == ("2026-02-20", '"2"')
    r = await training_client.post(
        path, json=body, headers={**headers, "If-Match": '"1"'}
    )
    assert r.status_code == 409
    other = token(training_settings, uuid.uuid4(), Role.supervisor)
    r = await training_client.post(
        path, json=body, headers={**other, "If-Match": '"2"'}
    )
    assert r.status_code == 404
    progress = (
        await training_client.get(f"/v1/mentoring-plans/{made['id']}", headers=headers)
    ).json()
    assert (progress["visits"], progress["hours"]) == (1, 1.5)
    assert progress["action_points"]["done"] == 1


async def test_a_trainees_erasure_clears_the_mentoring_text_about_them(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    orgs: dict[str, Org],
) -> None:
    org = uuid.uuid4()
    headers = token(training_settings, org, Role.supervisor)
    person = (
        await training_client.post("/v1/trainees", json=trainee(), headers=headers)
    ).json()["id"]
    made = (
        await training_client.post(
            "/v1/mentoring-plans", json=plan(orgs["b"]), headers=headers
        )
    ).json()
    with_them = visit(participant_trainee_ids=[person])
    for body in (with_them, visit()):
        r = await training_client.post(
            f"/v1/mentoring-plans/{made['id']}/visits", json=body, headers=headers
        )
        assert r.status_code == 201, r.text
    manager = token(training_settings, org, Role.programme_manager)
    r = await training_client.post(
        f"/v1/trainees/{person}/erasure", headers=manager | REASON
    )
    assert r.status_code == 200, r.text
    async with linked_training.state.engine.connect() as conn:
        kept = (
            await conn.execute(
                text(
                    "SELECT v.observations_enc IS NOT NULL, a.details_enc IS NOT NULL "
                    "FROM mentoring_visit v JOIN action_point a ON a.visit_id = v.id"
                )
            )
        ).all()
    assert sorted(tuple(k) for k in kept) == [(False, False), (True, True)]


async def test_plans_and_visits_are_read_a_page_at_a_time(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    orgs: dict[str, Org],
) -> None:
    headers = token(training_settings, uuid.uuid4(), Role.supervisor)
    made = [
        (
            await training_client.post(
                "/v1/mentoring-plans", json=plan(orgs["b"]), headers=headers
            )
        ).json()["id"]
        for _ in range(3)
    ]
    for day in ("2026-02-12", "2026-02-10", "2026-02-11"):
        r = await training_client.post(
            f"/v1/mentoring-plans/{made[0]}/visits",
            json=visit(held_on=day),
            headers=headers,
        )
        assert r.status_code == 201, r.text

    async def every(path: str) -> list[dict[str, object]]:
        found: list[dict[str, object]] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = await training_client.get(path, params=params, headers=headers)
            assert page.status_code == 200, page.text
            assert len(page.json()["items"]) <= 2
            found += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return found

    plans = await every("/v1/mentoring-plans")
    assert sorted(str(p["id"]) for p in plans) == sorted(made)
    visits = await every(f"/v1/mentoring-plans/{made[0]}/visits")
    assert [v["held_on"] for v in visits] == ["2026-02-10", "2026-02-11", "2026-02-12"]


async def projects_of(issue: Any, lead: Org, *names: str) -> list[str]:
    """Projects ``lead`` leads (February to April 2026)."""
    manager = issue(lead, Role.programme_manager)
    made = []
    for name in names:
        body = {"name": name, "donor": "D", "start": "2026-02-01", "end": "2026-04-30"}
        r = await manager.post("/v1/projects", body)
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    return made


async def test_plans_are_listed_by_project(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    issue: Any,
    orgs: dict[str, Org],
) -> None:
    lead = orgs["a"]
    headers = token(training_settings, uuid.UUID(lead.id), Role.supervisor)
    project, other = await projects_of(issue, lead, "One", "Two")
    made = {}
    for tag in (project, project, other, None):
        body = plan(orgs["b"], **({"project_id": tag} if tag else {}))
        r = await training_client.post(
            "/v1/mentoring-plans", json=body, headers=headers
        )
        assert r.status_code == 201, r.text
        made[r.json()["id"]] = tag
    listed = await training_client.get(
        "/v1/mentoring-plans", params={"project_id": project}, headers=headers
    )
    assert listed.status_code == 200, listed.text
    assert sorted(p["id"] for p in listed.json()["items"]) == sorted(
        plan_id for plan_id, tag in made.items() if tag == project
    )
    everyone = await training_client.get("/v1/mentoring-plans", headers=headers)
    assert len(everyone.json()["items"]) == 4


async def test_organisations_and_projects_named_are_checked(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    issue: Any,
    orgs: dict[str, Org],
) -> None:
    """A mentored organisation, a trainee's employer, a cohort's partner and
    a plan's or cohort's project are checked at the beneficiary service:
    unknown is a 422, another organisation's project is the same 422, a
    project whose period misses the dates is a 422; nothing is written."""
    lead = orgs["a"]
    headers = token(
        training_settings, uuid.UUID(lead.id), Role.supervisor, Role.trainer
    )
    [ours] = await projects_of(issue, lead, "Ours")
    [theirs] = await projects_of(issue, orgs["b"], "Theirs")
    nowhere = str(uuid.uuid4())

    async def refused(path: str, body: dict[str, Any]) -> tuple[list[Any], str]:
        r = await training_client.post(path, json=body, headers=headers)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        [error] = r.json()["errors"]
        return error["loc"], error["type"]

    unknown_project = (["body", "project_id"], "unknown_project")
    assert await refused("/v1/mentoring-plans", plan(Org(nowhere, "nowhere"))) == (
        ["body", "mentored_organisation_id"],
        "organisation",
    )
    for project in (theirs, nowhere):
        assert (
            await refused("/v1/mentoring-plans", plan(orgs["b"], project_id=project))
            == unknown_project
        )
    late = plan(
        orgs["b"], project_id=ours, starts_on="2026-05-01", ends_on="2026-06-30"
    )
    assert await refused("/v1/mentoring-plans", late) == (
        ["body", "project_id"],
        "period",
    )
    assert await refused(
        "/v1/trainees", trainee(affiliation_organisation_id=nowhere)
    ) == (["body", "affiliation_organisation_id"], "organisation")
    course = await training_client.post(
        "/v1/courses",
        json={
            "title": "PSS",
            "approach": "basic_helping_skills",
            "level": "foundational",
            "planned_hours": 6,
        },
        headers=headers,
    )
    assert course.status_code == 201, course.text
    cohort = {
        "course_id": course.json()["id"],
        "title": "C1",
        "starts_on": "2026-02-14",
        "ends_on": "2026-02-20",
        "modality": "in_person",
    }
    assert await refused("/v1/cohorts", {**cohort, "project_id": theirs}) == (
        unknown_project
    )
    assert await refused(
        "/v1/cohorts", {**cohort, "partner_organisation_id": nowhere}
    ) == (["body", "partner_organisation_id"], "organisation")
    async with linked_training.state.engine.connect() as conn:
        for table in ("mentoring_plan", "trainee", "cohort"):
            rows = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).one()
            assert rows[0] == 0, table

    made = await training_client.post(
        "/v1/trainees",
        json=trainee(affiliation_organisation_id=orgs["b"].id),
        headers=headers,
    )
    assert made.status_code == 201, made.text
    r = await training_client.patch(
        f"/v1/trainees/{made.json()['id']}",
        json={"affiliation_organisation_id": nowhere},
        headers={**headers, "If-Match": '"1"'},
    )
    assert r.status_code == 422, r.text
    r = await training_client.post(
        "/v1/cohorts",
        json={**cohort, "project_id": ours, "partner_organisation_id": orgs["b"].id},
        headers=headers,
    )
    assert r.status_code == 201, r.text


async def test_the_beneficiary_service_down_is_a_503_when_ids_are_named(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    orgs: dict[str, Org],
) -> None:
    """Nothing named, nothing asked: a plan for a trainee is still taken."""
    runtime = training_app.state.runtime
    saved = runtime.settings.beneficiary_url
    runtime.settings.beneficiary_url = "http://127.0.0.1:9"
    headers = token(training_settings, uuid.uuid4(), Role.supervisor)
    try:
        r = await training_client.post(
            "/v1/mentoring-plans", json=plan(orgs["b"]), headers=headers
        )
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"]
        person = await training_client.post(
            "/v1/trainees", json=trainee(), headers=headers
        )
        assert person.status_code == 201, person.text
        body = {**plan(orgs["b"]), "trainee_id": person.json()["id"]}
        del body["mentored_organisation_id"]
        r = await training_client.post(
            "/v1/mentoring-plans", json=body, headers=headers
        )
        assert r.status_code == 201, r.text
    finally:
        runtime.settings.beneficiary_url = saved


async def test_a_visit_written_and_listed_leaves_its_rows(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    orgs: dict[str, Org],
) -> None:
    """Visits hold observations about people: the write and each listing
    leave an audit row per visit; a replay leaves none."""
    headers = {
        **token(training_settings, uuid.uuid4(), Role.supervisor),
        "X-Access-Reason": "quarterly review",
    }
    made = await training_client.post(
        "/v1/mentoring-plans", json=plan(orgs["b"]), headers=headers
    )
    path = f"/v1/mentoring-plans/{made.json()['id']}/visits"
    keyed = {**headers, "Idempotency-Key": "visit-1"}
    first = await training_client.post(path, json=visit(), headers=keyed)
    assert first.status_code == 201, first.text
    again = await training_client.post(path, json=visit(), headers=keyed)
    assert again.json() == first.json()
    listed = await training_client.get(path, headers=headers)
    assert [v["id"] for v in listed.json()["items"]] == [first.json()["id"]]
    visit_id = first.json()["id"]
    assert await audit_trail(linked_training.state.engine, visit_id) == [
        ("write", "mentoring_visit", visit_id),
        ("list", "mentoring_visit", visit_id),
    ]
