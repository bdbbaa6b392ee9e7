"""The training authorisation sweep: every training route with another
organisation's token (nothing of the first organisation's trainees,
cohorts, groups or results), and with each role of the same organisation
on the routes it has no right to (403), ids in the path, query and body.

Training has no site dimension: trainees, cohorts, practice groups and
supervision belong to an organisation, not to a site (no record has a
site_id; a practice group's clients are checked as the organisation's
beneficiaries by pseudonymous id). A token limited to some sites is
therefore treated as its organisation's on every route but the change
feed, which covers every site and refuses it (the last test)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.beneficiary.api import make_beneficiary
from tests.callers import Caller
from tests.sweep import Call, Route, assert_refused, routes
from tests.training.api import token, trainee

SHARED_CATALOGUE = {"/v1/courses/{course_id}"}
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/trainees/{trainee_id}/erasure"): {},
    ("PATCH", "/v1/trainees/{trainee_id}"): {"role": "Rogue"},
    ("POST", "/v1/cohorts/{cohort_id}/enrolments"): {"trainee_ids": []},
    ("POST", "/v1/cohorts/{cohort_id}/sessions"): {
        "number": 9,
        "held_on": "2026-03-02",
        "hours": 1,
    },
    ("PUT", "/v1/cohorts/{cohort_id}/sessions/{number}/attendance"): {"present": []},
    ("POST", "/v1/cohorts/{cohort_id}/knowledge-tests"): {
        "kind": "pre",
        "taken_on": "2026-03-01",
        "results": [{"trainee_id": str(uuid.uuid4()), "score": 1}],
    },
    ("POST", "/v1/cohorts/{cohort_id}/certify"): {"on": "2026-03-05"},
    ("POST", "/v1/practice-groups/{group_id}/sessions"): {
        "number": 5,
        "phase": "middle",
        "held_on": "2026-04-02",
        "attended_client_ids": [],
    },
    ("POST", "/v1/mentoring-plans/{plan_id}/visits"): {
        "held_on": "2026-04-02",
        "mode": "phone",
        "duration_minutes": 30,
        "participants": 1,
        "topics": ["other"],
    },
    ("POST", "/v1/action-points/{action_point_id}/status"): {
        "status": "done",
        "on": "2026-04-03",
    },
    ("POST", "/v1/practice-groups/{group_id}/sessions/{number}/fidelity-reviews"): {
        "reviewed_on": "2026-04-02",
        "ratings": {},
    },
}


def supervision(trainee_id: str) -> dict[str, Any]:
    return {
        "kind": "individual",
        "mode": "virtual",
        "held_on": "2026-04-03",
        "duration_minutes": 30,
        "supervisee_trainee_ids": [trainee_id],
    }


async def first_organisations_world(
    client: httpx.AsyncClient, headers: dict[str, str], alice: Caller
) -> dict[str, str]:
    """One of each training record of Alice's organisation, made by a
    trainer and supervisor of it: a trainee enrolled in a cohort of a new
    course with a session, a practice group of one of its beneficiaries with
    a session, and a supervision session."""

    async def call(path: str, body: Any) -> Any:
        r = await client.post(path, json=body, headers=headers)
        assert r.status_code in (200, 201), r.text
        return r.json()

    person = (await call("/v1/trainees", trainee(full_name="Hidden Trainee")))["id"]
    course = (
        await call(
            "/v1/courses",
            {"title": "ToT", "approach": "ipt_g", "level": "tot", "planned_hours": 10},
        )
    )["id"]
    cohort = (
        await call(
            "/v1/cohorts",
            {
                "course_id": course,
                "title": "Mine",
                "starts_on": "2026-03-01",
                "ends_on": "2026-03-03",
                "modality": "online",
            },
        )
    )["id"]
    await call(f"/v1/cohorts/{cohort}/enrolments", {"trainee_ids": [person]})
    await call(
        f"/v1/cohorts/{cohort}/sessions",
        {"number": 1, "held_on": "2026-03-01", "hours": 2},
    )
    client_id = (await make_beneficiary(alice))["id"]
    group = (
        await call(
            "/v1/practice-groups",
            {
                "name": "G",
                "facilitator_trainee_ids": [person],
                "client_ids": [client_id],
                "started_on": "2026-04-01",
            },
        )
    )["id"]
    await call(
        f"/v1/practice-groups/{group}/sessions",
        {
            "number": 1,
            "phase": "initial",
            "held_on": "2026-04-01",
            "attended_client_ids": [client_id],
            "recording_ref": "r",
            "recording_sha256": "c" * 64,
        },
    )
    await call("/v1/supervision-sessions", supervision(person))
    feedback = (await call("/v1/feedback-responses", trainee_feedback(cohort)))["id"]
    plan = (await call("/v1/mentoring-plans", mentoring_plan(person)))["id"]
    visit = await call(
        f"/v1/mentoring-plans/{plan}/visits",
        {
            "held_on": "2026-04-02",
            "mode": "in_person",
            "duration_minutes": 60,
            "participants": 1,
            "participant_trainee_ids": [person],
            "topics": ["counselling_skills"],
            "observations": "Hidden Trainee needs practice",
            "action_points": [
                {
                    "description": "Role-play",
                    "owner": "Hidden Trainee",
                    "due_on": "2026-04-09",
                }
            ],
        },
    )
    return {
        "plan_id": plan,
        "feedback_id": feedback,
        "action_point_id": visit["action_points"][0]["id"],
        "trainee_id": person,
        "course_id": course,
        "cohort_id": cohort,
        "group_id": group,
        "number": "1",
        "beneficiary_id": client_id,
    }


def trainee_feedback(cohort_id: str) -> dict[str, Any]:
    return {
        "form": "trainee_satisfaction@1.0",
        "cohort_id": cohort_id,
        "session_number": 1,
        "answers": {"overall_satisfied": 4},
    }


def mentoring_plan(trainee_id: str) -> dict[str, Any]:
    return {
        "trainee_id": trainee_id,
        "starts_on": "2026-04-01",
        "ends_on": "2026-06-30",
        "goals": [{"code": "empathy", "competency_item": "empathy"}],
    }


def named_in_bodies(ids: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """Creates whose body names the first organisation's trainee or course."""
    person, course = ids["trainee_id"], ids["course_id"]
    return [
        (
            "/v1/cohorts",
            {
                "course_id": course,
                "title": "Theirs",
                "starts_on": "2026-03-01",
                "ends_on": "2026-03-02",
                "modality": "online",
                "facilitator_trainee_ids": [person],
            },
        ),
        ("/v1/supervision-sessions", supervision(person)),
        ("/v1/mentoring-plans", mentoring_plan(person)),
        ("/v1/feedback-responses", trainee_feedback(ids["cohort_id"])),
        (
            "/v1/competency-assessments",
            {
                "trainee_id": person,
                "tool": "helping_skills_core@1.0",
                "mode": "live",
                "context": "pre",
                "assessed_on": "2026-03-01",
                "ratings": {},
            },
        ),
    ]


async def test_every_training_route_hides_another_organisations_data(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    alice: Caller,
) -> None:
    mine = token(
        training_settings, uuid.UUID(alice.org.id), Role.trainer, Role.supervisor
    )
    ids = await first_organisations_world(training_client, mine, alice)
    person, cohort, group = ids["trainee_id"], ids["cohort_id"], ids["group_id"]
    client_id = ids["beneficiary_id"]

    intruder = token(
        training_settings,
        uuid.uuid4(),
        Role.trainer,
        Role.supervisor,
        Role.programme_manager,
        Role.auditor,
        Role.me_officer,
    )
    checked = 0
    for template, operations in linked_training.openapi()["paths"].items():
        if not template.startswith("/v1") or template in SHARED_CATALOGUE:
            continue
        params = re.findall(r"{(\w+)}", template)
        for method in (m.upper() for m in operations):
            if params:
                path = template
                for name in params:
                    path = path.replace(f"{{{name}}}", ids.get(name, cohort))
                body = BODIES.get((method, template))
                if method in {"POST", "PUT", "PATCH"}:
                    assert body is not None, f"add a body for {method} {template}"
                r = await training_client.request(
                    method, path, json=body, headers={**intruder, "If-Match": '"1"'}
                )
                assert r.status_code in {403, 404}, (method, path, r.text)
            elif method == "GET":
                r = await training_client.get(template, headers=intruder)
                assert r.status_code in {200, 403}, (template, r.text)
                for value in (person, cohort, group, "Hidden Trainee"):
                    assert value not in r.text, (template, value)
            checked += 1
    assert checked >= 12

    # bodies that name the first organisation's people are refused too
    foreign_bodies = named_in_bodies(ids)
    for path, body in foreign_bodies:
        r = await training_client.post(path, json=body, headers=intruder)
        assert r.status_code in {404, 422}, (path, r.text)
        assert "Hidden Trainee" not in r.text
    own = (
        await training_client.post("/v1/trainees", json=trainee(), headers=intruder)
    ).json()["id"]
    r = await training_client.post(
        "/v1/practice-groups",
        json={
            "name": "G",
            "facilitator_trainee_ids": [own],
            "client_ids": [client_id],
            "started_on": "2026-04-01",
        },
        headers=intruder,
    )
    assert r.status_code == 422  # the first organisation's client
    summary = (
        await training_client.get("/v1/training-summary", headers=intruder)
    ).json()
    assert (
        summary["cohorts"],
        summary["people_trained"],
        summary["practice_groups"],
        summary["supervision_sessions"],
    ) == (0, 0, 0, 0)


EVERYONE = frozenset(Role)
ALLOWED: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/v1/courses"): EVERYONE,  # the shared catalogue
    ("GET", "/v1/courses/{course_id}"): EVERYONE,
    ("GET", "/v1/feedback-forms"): EVERYONE,  # the forms, as data
    ("POST", "/v1/courses"): frozenset({Role.trainer, Role.programme_manager}),
    ("POST", "/v1/trainees/{trainee_id}/erasure"): frozenset({Role.programme_manager}),
    ("GET", "/v1/trainees/{trainee_id}/subject-access"): frozenset(
        {Role.supervisor, Role.programme_manager}
    ),
    ("GET", "/v1/practice-clients/{beneficiary_id}"): frozenset({Role.service}),
    ("GET", "/v1/events"): frozenset(
        {Role.service, Role.me_officer, Role.programme_manager}
    ),
}
"""Who may call a route (admin always may); every other route is for the
trainers, supervisors and programme managers who run the training."""
TRAINING_STAFF = frozenset({Role.trainer, Role.supervisor, Role.programme_manager})


async def test_every_route_refuses_a_role_without_the_right(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    issue: Any,
    alice: Caller,
) -> None:
    """Each role but admin, with a token of the same organisation, on each
    route it has no right to (an auditor, an M&E officer, a case or outreach
    worker on the trainers' routes; a trainer on erasure; a person on the
    machine routes): 403, with the organisation's own ids in the path, the
    query and the body."""
    staff = issue(alice.org, *TRAINING_STAFF).headers()
    ids = await first_organisations_world(training_client, staff, alice)
    person = ids["trainee_id"]
    bodies: dict[tuple[str, str], Any] = {
        **BODIES,
        ("POST", "/v1/cohorts/{cohort_id}/enrolments"): {"trainee_ids": [person]},
        ("PUT", "/v1/cohorts/{cohort_id}/sessions/{number}/attendance"): {
            "present": [person]
        },
        ("POST", "/v1/trainees"): trainee(),
        ("POST", "/v1/practice-groups"): {
            "name": "Rogue",
            "facilitator_trainee_ids": [person],
            "client_ids": [ids["beneficiary_id"]],
            "started_on": "2026-04-01",
        },
        ("POST", "/v1/courses"): {
            "title": "Rogue",
            "approach": "ipt_g",
            "level": "tot",
            "planned_hours": 1,
        },
        **{("POST", path): body for path, body in named_in_bodies(ids)},
    }
    callers = {str(role): issue(alice.org, role).headers() for role in Role}
    del callers[Role.admin]

    def call(route: Route) -> Call:
        body = bodies.get((route.method, route.template))
        if route.method in {"POST", "PUT"}:
            assert body is not None, f"add a body for {route.method} {route.template}"
        return Call(route.path(ids), route.query_ids(ids), body)

    def exempt(route: Route, role: str) -> bool:
        return role in ALLOWED.get((route.method, route.template), TRAINING_STAFF)

    checked = await assert_refused(
        training_client, routes(linked_training), callers, call, exempt=exempt
    )
    assert checked >= 150
    r = await training_client.get(f"/v1/trainees/{person}", headers=staff)
    assert r.json()["full_name"] == "Hidden Trainee"  # never erased
    r = await training_client.get(f"/v1/cohorts/{ids['cohort_id']}", headers=staff)
    assert r.json()["enrolled"] == 1, r.text


async def test_a_site_limited_token_reads_no_change_feed(
    training_client: httpx.AsyncClient, issue: Any, alice: Caller, site_ids: list[str]
) -> None:
    """The change feed covers every site of the organisation."""
    for role in (Role.me_officer, Role.programme_manager):
        limited = issue(alice.org, role, sites=site_ids[:1])
        r = await training_client.get("/v1/events", headers=limited.headers())
        assert r.status_code == 403, r.text
        everywhere = issue(alice.org, role)
        r = await training_client.get("/v1/events", headers=everywhere.headers())
        assert r.status_code == 200, r.text
