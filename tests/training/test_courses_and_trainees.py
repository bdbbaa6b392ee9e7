from __future__ import annotations

import json
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.training.settings import TrainingSettings
from shared.auth import Role
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
    assert r.json()["id"] in [c["id"] for c in listed.json()]
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
    assert "full_name" not in listed[0]
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
    assert {t["staff_id"] for t in listed} == {"staff-7", None}
    facts = await event_data(training_app, "trainee.registered")
    assert facts == [
        {
            "trainee_id": staff.json()["id"],
            "organisation_id": str(org),
            "audience": "ngo",
            "sex": "female",
            "staff_id": "staff-7",
        },
        {
            "trainee_id": volunteer.json()["id"],
            "organisation_id": str(org),
            "audience": "community_volunteer",
            "sex": "female",
            "staff_id": None,
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
