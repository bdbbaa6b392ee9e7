"""A trainer's app or an importer retrying after a lost answer: assessments
and fidelity reviews take a client id and an Idempotency-Key, and a retry
assesses, reviews, audits and publishes once."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.training.outbox.jobs import purge_idempotency_keys
from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.beneficiary.api import make_beneficiary
from tests.callers import Caller
from tests.training.api import FIDELITY_ITEMS, SHA, event_data, ratings, token, trainee


async def count(app: FastAPI, table: str) -> int:
    async with app.state.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).one()[0])


async def assessment(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    person = await client.post("/v1/trainees", json=trainee(), headers=headers)
    assert person.status_code == 201, person.text
    return {
        "trainee_id": person.json()["id"],
        "tool": "helping_skills_core@1.0",
        "mode": "role_play",
        "context": "post",
        "assessed_on": "2026-03-05",
        "ratings": ratings(3),
        **overrides,
    }


async def test_an_assessment_retried_with_its_key_is_made_once(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    headers = token(training_settings, uuid.uuid4(), Role.trainer)
    body = await assessment(training_client, headers)
    keyed = {**headers, "Idempotency-Key": "assess-1"}
    first = await training_client.post(
        "/v1/competency-assessments", json=body, headers=keyed
    )
    again = await training_client.post(
        "/v1/competency-assessments", json=body, headers=keyed
    )
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await count(training_app, "competency_assessment") == 1
    assert len(await event_data(training_app, "competency.assessed")) == 1
    assert await count(training_app, "audit_entry WHERE action = 'assess'") == 1
    other = await training_client.post(
        "/v1/competency-assessments",
        json={**body, "ratings": ratings(4)},
        headers=keyed,
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["type"] == "idempotency_key_reused"


async def test_an_assessment_sent_again_with_its_id_answers_the_first(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    headers = token(training_settings, uuid.uuid4(), Role.trainer)
    body = await assessment(training_client, headers, id=str(uuid.uuid4()))
    first = await training_client.post(
        "/v1/competency-assessments", json=body, headers=headers
    )
    assert first.status_code == 201, first.text
    assert first.json()["id"] == body["id"]
    again = await training_client.post(
        "/v1/competency-assessments", json=body, headers=headers
    )
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert await count(training_app, "competency_assessment") == 1
    assert len(await event_data(training_app, "competency.assessed")) == 1
    assert await count(training_app, "audit_entry WHERE action = 'assess'") == 1
    changed = await training_client.post(
        "/v1/competency-assessments",
        json={**body, "ratings": ratings(4)},
        headers=headers,
    )
    assert changed.status_code == 409
    elsewhere = token(training_settings, uuid.uuid4(), Role.trainer)
    theirs = await assessment(training_client, elsewhere, id=body["id"])
    taken = await training_client.post(
        "/v1/competency-assessments", json=theirs, headers=elsewhere
    )
    # another organisation's id is a free id there (decision 0006)
    assert taken.status_code == 201, taken.text
    assert taken.json()["trainee_id"] == theirs["trainee_id"]
    assert await count(training_app, "competency_assessment") == 2
    mine = await training_client.post(
        "/v1/competency-assessments", json=body, headers=headers
    )
    assert mine.json() == first.json()  # each organisation has its own


async def test_a_fidelity_review_sent_again_is_made_once(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    alice: Caller,
) -> None:
    headers = token(training_settings, uuid.UUID(alice.org.id), Role.trainer)
    facilitator = (
        await training_client.post("/v1/trainees", json=trainee(), headers=headers)
    ).json()["id"]
    client_id = (await make_beneficiary(alice))["id"]
    group = await training_client.post(
        "/v1/practice-groups",
        json={
            "name": "g",
            "facilitator_trainee_ids": [facilitator],
            "client_ids": [client_id],
            "started_on": "2026-04-01",
        },
        headers=headers,
    )
    assert group.status_code == 201, group.text
    path = f"/v1/practice-groups/{group.json()['id']}/sessions"
    held = await training_client.post(
        path,
        json={
            "number": 1,
            "phase": "initial",
            "held_on": "2026-04-08",
            "attended_client_ids": [client_id],
            "recording_ref": "s3://rec/1.mp3",
            "recording_sha256": SHA,
        },
        headers=headers,
    )
    assert held.status_code == 201, held.text
    review = {
        "id": str(uuid.uuid4()),
        "reviewed_on": "2026-04-10",
        "ratings": dict.fromkeys(FIDELITY_ITEMS, 2),
        "feedback": "Good structure",
    }
    answers = [
        await training_client.post(
            f"{path}/1/fidelity-reviews", json=review, headers=headers
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201], answers[1].text
    assert answers[0].json() == answers[1].json()
    assert await count(linked_training, "fidelity_review") == 1
    assert len(await event_data(linked_training, "fidelity_review.recorded")) == 1
    changed = await training_client.post(
        f"{path}/1/fidelity-reviews",
        json={**review, "feedback": "Something else"},
        headers=headers,
    )
    assert changed.status_code == 409
    keyed = {**headers, "Idempotency-Key": "review-2"}
    fresh = {**review, "id": str(uuid.uuid4())}
    for _ in range(2):
        r = await training_client.post(
            f"{path}/1/fidelity-reviews", json=fresh, headers=keyed
        )
        assert r.status_code == 201, r.text
    assert await count(linked_training, "fidelity_review") == 2
    assert len(await event_data(linked_training, "fidelity_review.recorded")) == 2


async def test_keys_older_than_a_week_are_forgotten(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    headers = token(training_settings, uuid.uuid4(), Role.trainer)
    for key in ("old", "new"):
        r = await training_client.post(
            "/v1/trainees", json=trainee(), headers={**headers, "Idempotency-Key": key}
        )
        assert r.status_code == 201, r.text
    async with training_app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE idempotency_record "
                "SET created_at = now() - interval '8 days' WHERE key = 'old'"
            )
        )
    runtime = {"runtime": training_app.state.runtime}
    assert await purge_idempotency_keys(runtime) == 1
    assert await count(training_app, "idempotency_record") == 1
