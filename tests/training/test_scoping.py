"""Every training route with another organisation's token: nothing of the
first organisation's trainees, cohorts, groups or results."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.beneficiary.conftest import Caller, make_beneficiary
from tests.training.test_courses_and_trainees import token, trainee

SHARED_CATALOGUE = {"/v1/courses/{course_id}"}
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/trainees/{trainee_id}/erasure"): {},
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
    ("POST", "/v1/practice-groups/{group_id}/sessions/{number}/fidelity-reviews"): {
        "reviewed_on": "2026-04-02",
        "ratings": {},
    },
}


async def test_every_training_route_hides_another_organisations_data(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    alice: Caller,
) -> None:
    mine = token(
        training_settings, uuid.UUID(alice.org.id), Role.trainer, Role.supervisor
    )

    async def call(path: str, body: Any, method: str = "POST") -> Any:
        r = await training_client.request(method, path, json=body, headers=mine)
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
    await call(
        "/v1/supervision-sessions",
        {
            "kind": "individual",
            "mode": "virtual",
            "held_on": "2026-04-03",
            "duration_minutes": 30,
            "supervisee_trainee_ids": [person],
        },
    )
    ids = {"trainee_id": person, "cohort_id": cohort, "group_id": group, "number": "1"}

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
                    method, path, json=body, headers=intruder
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
    foreign_bodies = [
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
        (
            "/v1/supervision-sessions",
            {
                "kind": "individual",
                "mode": "virtual",
                "held_on": "2026-04-03",
                "duration_minutes": 30,
                "supervisee_trainee_ids": [person],
            },
        ),
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
