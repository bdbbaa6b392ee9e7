from __future__ import annotations

import json
import uuid

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text

from services.training.settings import TrainingSettings
from shared.auth import Role
from shared.outbox import PUBLISH_OUTBOX_JOB
from tests.training.api import event_data, token, trainee


async def test_course_catalogue(
    training_client: httpx.AsyncClient, training_settings: TrainingSettings
) -> None:
    org = uuid.uuid4()
    trainer = token(training_settings, org, Role.trainer)
    body = {
        "title": "Foundational IPT-G (10 days)",
        "approach": "ipt_g",
        "level": "foundational",
        "planned_hours": 60,
        "target_competencies": ["group facilitation", "problem areas"],
    }
    r = await training_client.post("/v1/courses", json=body, headers=trainer)
    assert r.status_code == 201, r.text
    other = token(training_settings, uuid.uuid4(), Role.case_worker)
    listed = await training_client.get(
        "/v1/courses", params={"level": "foundational"}, headers=other
    )
    assert r.json()["id"] in [c["id"] for c in listed.json()["items"]]
    refused = await training_client.post("/v1/courses", json=body, headers=other)
    assert refused.status_code == 403
    bad = await training_client.post(
        "/v1/courses", json={**body, "level": "advanced"}, headers=trainer
    )
    assert bad.status_code == 422


async def test_trainees_are_private_to_their_organisation(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    trainer = token(training_settings, mine, Role.trainer)
    r = await training_client.post("/v1/trainees", json=trainee(), headers=trainer)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["full_name"] == "Rana Khalil"
    listed = (await training_client.get("/v1/trainees", headers=trainer)).json()
    assert "full_name" not in listed["items"][0]
    stranger = token(training_settings, theirs, Role.trainer, Role.programme_manager)
    assert (
        await training_client.get(f"/v1/trainees/{created['id']}", headers=stranger)
    ).status_code == 404
    assert (
        created["id"]
        not in (await training_client.get("/v1/trainees", headers=stranger)).text
    )
    async with training_app.state.engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    text("SELECT * FROM trainee WHERE id = :id"), {"id": created["id"]}
                )
            )
            .mappings()
            .one()
        )
        events = (await conn.execute(text("SELECT data::text FROM outbox_event"))).all()
    assert "Rana" not in " ".join(str(v) for v in row.values())
    assert "Rana" not in json.dumps([e[0] for e in events])
    assert "rana@example.org" not in json.dumps([e[0] for e in events])


async def test_a_trainee_may_carry_their_staff_code(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    org = uuid.uuid4()
    trainer = token(training_settings, org, Role.trainer)
    staff = await training_client.post(
        "/v1/trainees", json=trainee(staff_id=" staff-7 "), headers=trainer
    )
    volunteer = await training_client.post(
        "/v1/trainees", json=trainee(audience="community_volunteer"), headers=trainer
    )
    assert staff.status_code == volunteer.status_code == 201, staff.text
    assert (staff.json()["staff_id"], volunteer.json()["staff_id"]) == ("staff-7", None)
    listed = (await training_client.get("/v1/trainees", headers=trainer)).json()
    assert {t["staff_id"] for t in listed["items"]} == {"staff-7", None}
    facts = await event_data(training_app, "trainee.registered")
    assert facts == [
        {
            "trainee_id": staff.json()["id"],
            "organisation_id": str(org),
            "audience": "ngo",
            "sex": "female",
            "staff_id": "staff-7",
            "affiliation_organisation_id": None,
        },
        {
            "trainee_id": volunteer.json()["id"],
            "organisation_id": str(org),
            "audience": "community_volunteer",
            "sex": "female",
            "staff_id": None,
            "affiliation_organisation_id": None,
        },
    ]
    too_long = await training_client.post(
        "/v1/trainees", json=trainee(staff_id="s" * 101), headers=trainer
    )
    assert too_long.status_code == 422


async def test_bad_trainee_input(
    training_client: httpx.AsyncClient, training_settings: TrainingSettings
) -> None:
    trainer = token(training_settings, uuid.uuid4(), Role.trainer)
    for bad in (
        trainee(email="not-an-email"),
        trainee(audience="aliens"),
        trainee(sex="x"),
    ):
        r = await training_client.post("/v1/trainees", json=bad, headers=trainer)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("field", ["affiliation", "role", "profession"])
async def test_a_nul_character_in_a_trainee_text_is_invalid_not_a_500(
    field: str,
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    trainer = token(training_settings, uuid.uuid4(), Role.trainer)
    r = await training_client.post(
        "/v1/trainees", json=trainee(**{field: "Local\x00NGO"}), headers=trainer
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", field]


async def test_a_trainee_is_edited_under_if_match(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    org = uuid.uuid4()
    trainer = token(training_settings, org, Role.trainer)
    created = (
        await training_client.post("/v1/trainees", json=trainee(), headers=trainer)
    ).json()
    path = f"/v1/trainees/{created['id']}"
    read = await training_client.get(path, headers=trainer)
    assert read.headers["ETag"] == '"1"'
    edit = {"role": "senior counsellor", "phone": None, "email": "rk@example.org"}
    r = await training_client.patch(path, json=edit, headers=trainer)
    assert r.status_code == 428, r.text
    key = {"Idempotency-Key": str(uuid.uuid4()), "If-Match": '"1"'}
    r = await training_client.patch(path, json=edit, headers=trainer | key)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"2"'
    assert (r.json()["role"], r.json()["phone"], r.json()["email"]) == (
        "senior counsellor",
        None,
        "rk@example.org",
    )
    assert r.json()["full_name"] == "Rana Khalil"  # left out: unchanged
    again = await training_client.patch(path, json=edit, headers=trainer | key)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["version"] == 2
    stale = await training_client.patch(
        path, json={"sex": "male"}, headers=trainer | {"If-Match": '"1"'}
    )
    assert stale.status_code == 409, stale.text
    assert stale.json()["current"]["role"] == "senior counsellor"
    cleared = await training_client.patch(
        path, json={"role": None}, headers=trainer | {"If-Match": '"2"'}
    )
    assert cleared.status_code == 422, cleared.text
    stranger = token(training_settings, uuid.uuid4(), Role.trainer)
    r = await training_client.patch(
        path, json={"sex": "male"}, headers=stranger | {"If-Match": '"2"'}
    )
    assert r.status_code == 404
    [registered, updated] = [
        *await event_data(training_app, "trainee.registered"),
        *await event_data(training_app, "trainee.updated"),
    ]
    assert updated == registered  # nothing reporting counts changed
    assert "rk@example.org" not in json.dumps(updated)

    manager = token(training_settings, org, Role.programme_manager)
    reason = {"X-Access-Reason": "written request received 2026-03-01"}
    r = await training_client.post(f"{path}/erasure", headers=manager | reason)
    assert r.status_code == 200, r.text
    version = (await training_client.get(path, headers=trainer)).headers["ETag"]
    r = await training_client.patch(
        path, json={"full_name": "Back Again"}, headers=trainer | {"If-Match": version}
    )
    assert r.status_code == 409, r.text
    assert "erased" in r.json()["detail"]


async def test_only_a_write_with_events_announces_the_outbox(
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    redis: Redis,
) -> None:
    """Announcing costs Redis round trips on the write path: a course (no
    event) pays none, a registered trainee (an event) asks for sequencing."""
    org = uuid.uuid4()
    job = f"arq:job:training:{PUBLISH_OUTBOX_JOB}"
    course: dict[str, object] = {"title": "PFA", "approach": "pfa"}
    course |= {"level": "foundational", "planned_hours": 6}
    r = await training_client.post(
        "/v1/courses", json=course, headers=token(training_settings, org, Role.trainer)
    )
    assert r.status_code == 201, r.text
    assert not await redis.exists(job)
    r = await training_client.post(
        "/v1/trainees",
        json=trainee(),
        headers=token(training_settings, org, Role.supervisor),
    )
    assert r.status_code == 201, r.text
    assert await redis.exists(job)
