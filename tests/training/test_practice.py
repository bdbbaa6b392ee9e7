"""Supervised practice: client groups checked against the beneficiary
service over HTTP by pseudonymous id, sessions by phase with recordings,
fidelity reviews."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.beneficiary.api import make_beneficiary
from tests.callers import Caller
from tests.training.api import FIDELITY_ITEMS, SHA, event_data, token, trainee


async def test_groups_sessions_and_fidelity(
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    alice: Caller,
    bob: Caller,
) -> None:
    headers = token(training_settings, uuid.UUID(alice.org.id), Role.trainer)
    facilitators = [
        (
            await training_client.post("/v1/trainees", json=trainee(), headers=headers)
        ).json()["id"]
        for _ in range(2)
    ]
    clients = [(await make_beneficiary(alice))["id"] for _ in range(6)]
    body: dict[str, Any] = {
        "name": "Zakho women's group",
        "facilitator_trainee_ids": facilitators,
        "client_ids": clients,
        "started_on": "2026-04-01",
    }
    r = await training_client.post("/v1/practice-groups", json=body, headers=headers)
    assert r.status_code == 201, r.text
    group = r.json()
    assert group["clients"] == 6
    foreign = (await make_beneficiary(bob))["id"]
    r = await training_client.post(
        "/v1/practice-groups",
        json={**body, "client_ids": [*clients, foreign]},
        headers=headers,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "client_ids", 6]

    path = f"/v1/practice-groups/{group['id']}/sessions"
    first = await training_client.post(
        path,
        json={
            "number": 1,
            "phase": "initial",
            "held_on": "2026-04-08",
            "attended_client_ids": clients[:5],
            "recording_ref": "s3://rec/1.mp3",
            "recording_sha256": SHA,
        },
        headers=headers,
    )
    assert first.status_code == 201, first.text
    unrecorded = await training_client.post(
        path,
        json={
            "number": 2,
            "phase": "middle",
            "held_on": "2026-04-15",
            "attended_client_ids": clients,
        },
        headers=headers,
    )
    assert unrecorded.status_code == 201
    stranger = await training_client.post(
        path,
        json={
            "number": 3,
            "phase": "middle",
            "held_on": "2026-04-22",
            "attended_client_ids": [foreign],
        },
        headers=headers,
    )
    assert stranger.status_code == 422

    ratings = dict.fromkeys(FIDELITY_ITEMS, 2)
    ratings["homework"] = 0
    review = await training_client.post(
        f"{path}/1/fidelity-reviews",
        json={
            "reviewed_on": "2026-04-10",
            "ratings": ratings,
            "feedback": "Good structure; homework not reviewed",
        },
        headers=headers,
    )
    assert review.status_code == 201, review.text
    assert review.json()["adherence_score"] == 90.0
    no_recording = await training_client.post(
        f"{path}/2/fidelity-reviews",
        json={"reviewed_on": "2026-04-16", "ratings": ratings},
        headers=headers,
    )
    assert no_recording.status_code == 422
    sessions = await event_data(linked_training, "practice_session.recorded")
    reviews = await event_data(linked_training, "fidelity_review.recorded")
    assert [(s["clients_attended"], s["recorded"]) for s in sessions] == [
        (5, True),
        (6, False),
    ]
    assert [r["adherence_score"] for r in reviews] == [90.0]
    for facts in sessions + reviews:
        assert facts["facilitator_ids"] == facilitators


async def start_group_with_one_client(
    training_client: httpx.AsyncClient, training_settings: TrainingSettings
) -> httpx.Response:
    """A practice group whose one client the beneficiary service must check."""
    headers = token(training_settings, uuid.uuid4(), Role.trainer)
    facilitator = (
        await training_client.post("/v1/trainees", json=trainee(), headers=headers)
    ).json()["id"]
    return await training_client.post(
        "/v1/practice-groups",
        json={
            "name": "g",
            "facilitator_trainee_ids": [facilitator],
            "client_ids": [str(uuid.uuid4())],
            "started_on": "2026-04-01",
        },
        headers=headers,
    )


async def test_the_beneficiary_service_down_is_a_clear_503(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    runtime = training_app.state.runtime
    saved = runtime.settings.beneficiary_url
    runtime.settings.beneficiary_url = "http://127.0.0.1:9"
    try:
        r = await start_group_with_one_client(training_client, training_settings)
    finally:
        runtime.settings.beneficiary_url = saved
    assert r.status_code == 503
    assert r.headers["retry-after"]


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>proxy login</html>"),
        httpx.Response(200, json={"unexpected": True}),
        httpx.Response(200, json={"found": ["a list"]}),
    ],
    ids=["not-json", "no-found", "found-not-a-map"],
)
async def test_a_beneficiary_service_answering_nonsense_is_a_503(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    monkeypatch: pytest.MonkeyPatch,
    answer: httpx.Response,
) -> None:
    """An answer that is not a lookup result (a proxy's page, another
    version) says nothing about the clients: 503, never a 500."""
    runtime = training_app.state.runtime
    monkeypatch.setattr(
        runtime,
        "http",
        httpx.AsyncClient(transport=httpx.MockTransport(lambda _: answer)),
    )
    r = await start_group_with_one_client(training_client, training_settings)
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"]
