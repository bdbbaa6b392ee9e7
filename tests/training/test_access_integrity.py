"""Security review, issue 12 (consent and access integrity), training side:
an old or repeated attendance request never undoes a newer one."""

from __future__ import annotations

import httpx

from services.training.settings import TrainingSettings
from tests.training.test_cohorts import setup


async def test_a_stale_or_repeated_attendance_write_never_undoes_a_newer_one(
    training_client: httpx.AsyncClient, training_settings: TrainingSettings
) -> None:
    headers, cohort, people = await setup(training_client, training_settings, 2)
    path = f"/v1/cohorts/{cohort['id']}"
    r = await training_client.post(
        f"{path}/enrolments", json={"trainee_ids": people}, headers=headers
    )
    assert r.status_code == 200, r.text
    r = await training_client.post(
        f"{path}/sessions",
        json={"number": 1, "held_on": "2026-03-01", "hours": 6},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    attendance = f"{path}/sessions/1/attendance"
    first = {"present": people}
    r = await training_client.put(attendance, json=first, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"1"'
    r = await training_client.put(
        attendance,
        json={"present": people[:1]},
        headers={**headers, "If-Match": r.headers["ETag"]},
    )
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"2"'

    replayed = await training_client.put(attendance, json=first, headers=headers)
    assert replayed.status_code == 428, replayed.text
    assert replayed.headers["content-type"].startswith("application/problem+json")
    stale = await training_client.put(
        attendance, json=first, headers={**headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 409, stale.text
    assert stale.json()["current"] == {"present": people[:1], "version": 2}

    r = await training_client.get(attendance, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"2"'
    assert r.json() == {"present": people[:1], "version": 2}
    progress = await training_client.get(f"{path}/progress", headers=headers)
    attended = {p["trainee_id"]: p["sessions_attended"] for p in progress.json()}
    assert attended == {people[0]: 1, people[1]: 0}

    unchanged = await training_client.put(
        attendance, json={"present": people[:1]}, headers={**headers, "If-Match": '"2"'}
    )
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.headers["ETag"] == '"2"'  # nothing changed, same version
