"""Completion and certification by a course's explicit criteria."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.training.api import TOOL, event_data, ratings, token, trainee


async def test_completion_and_certification_follow_the_criteria(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    cohort_org = str(uuid.uuid4())
    headers = token(training_settings, uuid.UUID(cohort_org), Role.trainer)
    course = await training_client.post(
        "/v1/courses",
        json={
            "title": "IPT-G foundations",
            "approach": "ipt_g",
            "level": "foundational",
            "planned_hours": 20,
            "criteria": {
                "min_attendance_share": 0.75,
                "min_post_test_score": 70,
                "min_competency_level": 3,
                "competency_tool": TOOL,
            },
        },
        headers=headers,
    )
    assert course.status_code == 201, course.text
    people = [
        (
            await training_client.post(
                "/v1/trainees", json=trainee(full_name=f"T{i}"), headers=headers
            )
        ).json()["id"]
        for i in range(4)
    ]
    cohort = (
        await training_client.post(
            "/v1/cohorts",
            json={
                "course_id": course.json()["id"],
                "title": "c1",
                "starts_on": "2026-03-01",
                "ends_on": "2026-03-04",
                "modality": "in_person",
            },
            headers=headers,
        )
    ).json()
    path = f"/v1/cohorts/{cohort['id']}"
    await training_client.post(
        f"{path}/enrolments", json={"trainee_ids": people}, headers=headers
    )
    for day in range(1, 5):
        await training_client.post(
            f"{path}/sessions",
            json={"number": day, "held_on": f"2026-03-0{day}", "hours": 5},
            headers=headers,
        )
        present = people if day < 3 else people[:3]  # T3 misses half
        await training_client.put(
            f"{path}/sessions/{day}/attendance",
            json={"present": present},
            headers=headers,
        )
    await training_client.post(
        f"{path}/knowledge-tests",
        json={
            "kind": "pre",
            "taken_on": "2026-03-01",
            "results": [{"trainee_id": p, "score": 40} for p in people],
        },
        headers=headers,
    )
    post = await training_client.post(
        f"{path}/knowledge-tests",
        json={
            "kind": "post",
            "taken_on": "2026-03-04",
            "results": [
                {"trainee_id": p, "score": s}
                for p, s in zip(people, [85, 90, 60, 95], strict=True)
            ],
        },
        headers=headers,
    )
    assert post.status_code == 200, post.text
    for person, body in [
        (people[0], ratings(3)),
        (people[1], ratings(4, harmful="confidentiality")),
        (people[2], ratings(4)),
        (people[3], ratings(4)),
    ]:
        r = await training_client.post(
            "/v1/competency-assessments",
            json={
                "trainee_id": person,
                "cohort_id": cohort["id"],
                "tool": TOOL,
                "mode": "role_play",
                "context": "post",
                "assessed_on": "2026-03-04",
                "ratings": body,
            },
            headers=headers,
        )
        assert r.status_code == 201, r.text
    assert r.json()["overall_level"] == 4
    certified = await training_client.post(
        f"{path}/certify", json={"on": "2026-03-05"}, headers=headers
    )
    outcome = {x["trainee_id"]: x for x in certified.json()}
    assert (outcome[people[0]]["completed"], outcome[people[0]]["certified"]) == (
        True,
        True,
    )
    assert outcome[people[1]]["competency_level"] == 1  # a harmful behaviour
    assert (outcome[people[1]]["completed"], outcome[people[1]]["certified"]) == (
        True,
        False,
    )
    assert outcome[people[2]]["completed"] is False  # post-test 60 < 70
    assert outcome[people[3]]["attendance_share"] == 0.5
    assert outcome[people[3]]["completed"] is False
    assert any("attendance" in reason for reason in outcome[people[3]]["reasons"])
    again = await training_client.post(
        f"{path}/certify", json={"on": "2026-03-06"}, headers=headers
    )
    assert again.status_code == 200
    async with training_app.state.engine.connect() as conn:
        published = await conn.scalar(
            text(
                "SELECT count(*) FROM outbox_event "
                "WHERE type = 'training_result.recorded'"
            )
        )
    assert published == 4  # certifying again published nothing new
    results = {
        r["trainee_id"]: r
        for r in await event_data(training_app, "training_result.recorded")
    }
    assert results[people[0]] == {
        "cohort_id": cohort["id"],
        "trainee_id": people[0],
        "organisation_id": cohort_org,
        "course_id": course.json()["id"],
        "course_level": "foundational",
        "decided_on": "2026-03-05",
        "completed": True,
        "certified": True,
        "pre_test": 40.0,
        "post_test": 85.0,
        "competency_level": 3,
        "project_id": None,
    }
    assert results[people[1]]["competency_level"] == 1
    assessed = await event_data(training_app, "competency.assessed")
    assert [(a["trainee_id"], a["overall_level"], a["harmful"]) for a in assessed] == [
        (people[0], 3, False),
        (people[1], 1, True),
        (people[2], 4, False),
        (people[3], 4, False),
    ]
    assert assessed[0]["cohort_id"] == cohort["id"]
    assert (assessed[0]["tool"], assessed[0]["context"]) == (TOOL, "post")
    assert assessed[0]["assessed_on"] == "2026-03-04"

    reassessed = await training_client.post(
        "/v1/competency-assessments",
        json={
            "trainee_id": people[0],
            "cohort_id": cohort["id"],
            "tool": TOOL,
            "mode": "live",
            "context": "supervision",
            "assessed_on": "2026-03-06",
            "ratings": ratings(4),
        },
        headers=headers,
    )
    assert reassessed.status_code == 201
    await training_client.post(
        f"{path}/certify", json={"on": "2026-03-07"}, headers=headers
    )
    latest = await event_data(training_app, "training_result.recorded")
    assert len(latest) == 5  # only the level changed, for one trainee
    assert (latest[-1]["trainee_id"], latest[-1]["competency_level"]) == (
        people[0],
        4,
    )
    assert latest[-1]["decided_on"] == "2026-03-07"


async def test_ratings_must_fit_the_tool(
    training_client: httpx.AsyncClient, training_settings: TrainingSettings
) -> None:
    headers = token(training_settings, uuid.uuid4(), Role.trainer)
    person = (
        await training_client.post("/v1/trainees", json=trainee(), headers=headers)
    ).json()["id"]
    incomplete = ratings(3)
    incomplete.pop("empathy")
    incomplete["charisma"] = 4
    incomplete["rapport_building"] = 7
    r = await training_client.post(
        "/v1/competency-assessments",
        json={
            "trainee_id": person,
            "tool": TOOL,
            "mode": "live",
            "context": "pre",
            "assessed_on": "2026-03-01",
            "ratings": incomplete,
        },
        headers=headers,
    )
    assert r.status_code == 422
    located = {e["loc"][-1] for e in r.json()["errors"]}
    assert located == {"empathy", "charisma", "rapport_building"}
