"""Training's audit log, as the beneficiary service's: every write and read of
a trainee leaves a row with who and why, a refused request leaves none, and
the break-glass prefix of a reason is the server's alone."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.beneficiary.api import count_rows
from tests.training.api import token, trainee


async def audit_rows(app: FastAPI, entity_id: str) -> list[tuple[str, str, str | None]]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT action, entity_type, reason FROM audit_entry "
                "WHERE entity_id = :id ORDER BY at"
            ),
            {"id": entity_id},
        )
        return [(r.action, r.entity_type, r.reason) for r in rows]


async def test_registering_and_reading_a_trainee_are_audited_with_the_reason(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    headers = token(training_settings, uuid.uuid4(), Role.trainer)
    created = await training_client.post(
        "/v1/trainees", json=trainee(), headers=headers
    )
    assert created.status_code == 201, created.text
    trainee_id = created.json()["id"]
    read = await training_client.get(
        f"/v1/trainees/{trainee_id}",
        headers={**headers, "X-Access-Reason": "certificate check"},
    )
    assert read.status_code == 200, read.text
    assert await audit_rows(training_app, trainee_id) == [
        ("create", "trainee", None),
        ("read", "trainee", "certificate check"),
    ]


async def test_a_refused_trainee_leaves_no_row_and_no_trace(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    headers = token(training_settings, uuid.uuid4(), Role.trainer)
    r = await training_client.post(
        "/v1/trainees", json=trainee(sex="unknown-value"), headers=headers
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await count_rows(training_app.state.engine, "trainee") == 0
    assert await count_rows(training_app.state.engine, "audit_entry") == 0


async def test_a_reason_may_not_pose_as_a_break_glass_grant(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    headers = token(training_settings, uuid.uuid4(), Role.trainer)
    created = await training_client.post(
        "/v1/trainees", json=trainee(), headers=headers
    )
    assert created.status_code == 201, created.text
    trainee_id = created.json()["id"]
    r = await training_client.get(
        f"/v1/trainees/{trainee_id}",
        headers={**headers, "X-Access-Reason": "break-glass: emergency"},
    )
    assert r.status_code == 422, r.text
    assert await audit_rows(training_app, trainee_id) == [("create", "trainee", None)]


async def test_another_organisations_trainee_is_a_404_and_is_not_audited(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    mine = token(training_settings, uuid.uuid4(), Role.trainer)
    theirs = token(training_settings, uuid.uuid4(), Role.trainer)
    created = await training_client.post("/v1/trainees", json=trainee(), headers=mine)
    trainee_id = created.json()["id"]
    r = await training_client.get(f"/v1/trainees/{trainee_id}", headers=theirs)
    assert r.status_code == 404, r.text
    assert await audit_rows(training_app, trainee_id) == [("create", "trainee", None)]
