"""A foundational course for a cohort: enrolment, sessions, attendance, hours;
another organisation sees none of it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.training.api import cohort_of_trainees, token


async def test_sessions_attendance_and_hours(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    headers, cohort, people = await cohort_of_trainees(
        training_client, training_settings
    )
    path = f"/v1/cohorts/{cohort['id']}"
    r = await training_client.post(
        f"{path}/enrolments", json={"trainee_ids": people + people[:2]}, headers=headers
    )
    assert r.json()["enrolled"] == 5
    for day in range(1, 11):
        r = await training_client.post(
            f"{path}/sessions",
            json={"number": day, "held_on": f"2026-03-{day:02d}", "hours": 6},
            headers=headers,
        )
        assert r.status_code == 201, r.text
    assert r.json()["hours_delivered"] == 60
    for day in range(1, 11):
        present = people if day != 3 else people[1:]
        r = await training_client.put(
            f"{path}/sessions/{day}/attendance",
            json={"present": present},
            headers=headers,
        )
        assert r.status_code == 200, r.text
    progress = {p["trainee_id"]: p for p in r.json()}
    assert progress[people[0]]["hours_completed"] == 54
    assert progress[people[0]]["attendance_share"] == 0.9
    assert progress[people[1]]["sessions_attended"] == 10
    again = await training_client.put(
        f"{path}/sessions/10/attendance",
        json={"present": people},
        headers={**headers, "If-Match": r.headers["ETag"]},
    )
    assert again.status_code == 200
    async with training_app.state.engine.connect() as conn:
        events = [
            json.loads(row[0])
            for row in (
                await conn.execute(
                    text(
                        "SELECT data::text FROM outbox_event "
                        "WHERE type = 'attendance.recorded'"
                    )
                )
            ).all()
        ]
    assert len(events) == 50  # 10 sessions x 5 enrolled; the replay added none
    assert "Worker" not in json.dumps(events)


async def test_bad_attendance_and_dates(
    training_client: httpx.AsyncClient, training_settings: TrainingSettings
) -> None:
    headers, cohort, people = await cohort_of_trainees(
        training_client, training_settings, workers=2
    )
    path = f"/v1/cohorts/{cohort['id']}"
    outside = await training_client.post(
        f"{path}/sessions",
        json={"number": 1, "held_on": "2026-04-01", "hours": 2},
        headers=headers,
    )
    assert outside.status_code == 422
    await training_client.post(
        f"{path}/sessions",
        json={"number": 1, "held_on": "2026-03-02", "hours": 2},
        headers=headers,
    )
    not_enrolled = await training_client.put(
        f"{path}/sessions/1/attendance", json={"present": people}, headers=headers
    )
    assert not_enrolled.status_code == 422
    no_session = await training_client.put(
        f"{path}/sessions/9/attendance", json={"present": []}, headers=headers
    )
    assert no_session.status_code == 422


async def test_other_organisations_see_nothing(
    training_client: httpx.AsyncClient, training_settings: TrainingSettings
) -> None:
    headers, cohort, people = await cohort_of_trainees(
        training_client, training_settings, workers=1
    )
    stranger = token(
        training_settings, uuid.uuid4(), Role.trainer, Role.programme_manager
    )
    path = f"/v1/cohorts/{cohort['id']}"
    calls: list[tuple[str, str, Any]] = [
        ("GET", path, None),
        ("GET", f"{path}/progress", None),
        ("POST", f"{path}/enrolments", {"trainee_ids": people}),
        (
            "POST",
            f"{path}/sessions",
            {"number": 1, "held_on": "2026-03-02", "hours": 1},
        ),
        ("PUT", f"{path}/sessions/1/attendance", {"present": []}),
        ("GET", f"/v1/trainees/{people[0]}", None),
    ]
    for method, url, body in calls:
        r = await training_client.request(method, url, json=body, headers=stranger)
        assert r.status_code == 404, (method, url, r.text)
    own_cohort = await training_client.post(
        "/v1/cohorts",
        json={
            "course_id": cohort["course_id"],
            "title": "Theirs",
            "starts_on": "2026-03-01",
            "ends_on": "2026-03-02",
            "modality": "online",
        },
        headers=stranger,
    )
    taken = await training_client.post(
        f"/v1/cohorts/{own_cohort.json()['id']}/enrolments",
        json={"trainee_ids": people},
        headers=stranger,
    )
    assert taken.status_code == 422  # another organisation's trainees
