from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.training.api import event_data, token, trainee


async def test_virtual_group_supervision(
    training_app: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    headers = token(training_settings, uuid.uuid4(), Role.supervisor)
    people = [
        (
            await training_client.post("/v1/trainees", json=trainee(), headers=headers)
        ).json()["id"]
        for _ in range(3)
    ]
    body = {
        "id": str(uuid.uuid4()),
        "kind": "group",
        "mode": "virtual",
        "held_on": "2026-04-02",
        "duration_minutes": 90,
        "supervisee_trainee_ids": people,
        "cases_discussed": 4,
        "notes": "Discussed a client with grief and suicidal thoughts",
    }
    first = await training_client.post(
        "/v1/supervision-sessions", json=body, headers=headers
    )
    again = await training_client.post(
        "/v1/supervision-sessions", json=body, headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    listed = (
        await training_client.get("/v1/supervision-sessions", headers=headers)
    ).json()
    assert len(listed) == 1
    assert listed[0]["notes"].startswith("Discussed")
    [facts] = await event_data(training_app, "supervision.recorded")
    assert facts["supervisees"] == 3
    assert sorted(facts["supervisee_ids"]) == sorted(people)
    assert "grief" not in str(facts)
    individual = {**body, "id": None, "kind": "individual"}
    assert (
        await training_client.post(
            "/v1/supervision-sessions", json=individual, headers=headers
        )
    ).status_code == 422
    stranger = token(training_settings, uuid.uuid4(), Role.supervisor)
    assert (
        await training_client.get("/v1/supervision-sessions", headers=stranger)
    ).json() == []
    foreign = {**body, "id": None}
    assert (
        await training_client.post(
            "/v1/supervision-sessions", json=foreign, headers=stranger
        )
    ).status_code == 422
