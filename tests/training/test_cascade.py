"""A ToT cascade counted generation by generation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.training.api import token, trainee


async def make(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, body: dict[str, Any]
) -> dict[str, Any]:
    r = await client.post(path, json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    result: dict[str, Any] = r.json()
    return result


async def test_reach_of_a_cascade(
    training_client: httpx.AsyncClient, training_settings: TrainingSettings
) -> None:
    headers = token(training_settings, uuid.uuid4(), Role.trainer)

    async def course(level: str) -> str:
        created = await make(
            training_client,
            headers,
            "/v1/courses",
            {
                "title": f"IPT-G {level}",
                "approach": "ipt_g",
                "level": level,
                "planned_hours": 60,
                "criteria": {"min_attendance_share": 0},
            },
        )
        return str(created["id"])

    async def people(n: int) -> list[str]:
        return [
            (
                await make(
                    training_client, headers, "/v1/trainees", trainee(full_name=f"P{i}")
                )
            )["id"]
            for i in range(n)
        ]

    async def cohort(
        course_id: str,
        members: list[str],
        facilitators: list[str],
        starts_on: str = "2026-03-01",
    ) -> str:
        c = await make(
            training_client,
            headers,
            "/v1/cohorts",
            {
                "course_id": course_id,
                "title": "cohort",
                "starts_on": starts_on,
                "ends_on": "2026-06-30",
                "modality": "in_person",
                "facilitator_trainee_ids": facilitators,
            },
        )
        await make(
            training_client,
            headers,
            f"/v1/cohorts/{c['id']}/enrolments",
            {"trainee_ids": members},
        )
        return str(c["id"])

    foundational, tot = await course("foundational"), await course("tot")
    workers = await people(10)
    await cohort(foundational, workers, [])
    tot_cohort = await cohort(tot, workers[:3], [])
    await make(
        training_client,
        headers,
        f"/v1/cohorts/{tot_cohort}/certify",
        {"on": "2026-03-11"},
    )
    second = [
        await cohort(foundational, await people(5), [trainer], "2026-04-01")
        for trainer in workers[:2]
    ]
    # facilitated before the ToT certified them: not the cascade's reach
    await cohort(foundational, await people(4), [workers[2]], "2026-03-05")

    r = await training_client.get(f"/v1/cascades/{tot_cohort}", headers=headers)
    assert r.status_code == 200, r.text
    gens = r.json()["generations"]
    assert [(g["trainees_reached"], g["trainers_certified"]) for g in gens] == [
        (3, 3),
        (10, 0),
    ]
    assert sorted(gens[1]["cohorts"]) == sorted(second)
    assert r.json()["total_reached"] == 13
    not_tot = await training_client.get(f"/v1/cascades/{second[0]}", headers=headers)
    assert not_tot.status_code == 422
