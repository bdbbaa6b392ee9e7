"""Training records and tokens made for tests of any suite."""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.training.settings import TrainingSettings
from shared.auth import LocalSigningKey, Role
from shared.taxonomy.competency import competency_tools
from tests.callers import Caller, Org, ok


def token(settings: TrainingSettings, org: uuid.UUID, *roles: Role) -> dict[str, str]:
    key = LocalSigningKey.load_or_create(settings.data_dir)
    issued = key.issue(
        subject=f"user-{uuid.uuid4().hex[:6]}",
        organisation_id=org,
        roles=roles,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )
    return {"Authorization": f"Bearer {issued}"}


def training_caller(
    settings: TrainingSettings, client: httpx.AsyncClient, org: Org, *roles: Role
) -> Caller:
    """A user of ``org`` with ``roles`` calling the training service."""
    bearer = token(settings, uuid.UUID(org.id), *roles)["Authorization"]
    return Caller(client, bearer.removeprefix("Bearer "), org, "trainer")


class Held(NamedTuple):
    """A training session as held: its day, hours, topic and who was present."""

    on: str
    hours: float
    topic: str | None
    present: list[str]


async def hold_cohort(
    trainer: Caller,
    course_id: str,
    title: str,
    sessions: list[Held],
    modality: str = "in_person",
    site_id: str | None = None,
    starts_on: str | None = None,
    ends_on: str | None = None,
) -> str:
    """A cohort of ``course_id`` (from the first session's day to the last's
    unless given), everyone present at any session enrolled, each session
    held and its attendance marked; returns the cohort's id."""
    cohort = await ok(
        await trainer.post(
            "/v1/cohorts",
            {
                "course_id": course_id,
                "title": title,
                "starts_on": starts_on or sessions[0].on,
                "ends_on": ends_on or sessions[-1].on,
                "modality": modality,
                **({"site_id": site_id} if site_id else {}),
            },
        )
    )
    path = f"/v1/cohorts/{cohort['id']}"
    members = list(dict.fromkeys(m for held in sessions for m in held.present))
    await ok(await trainer.post(f"{path}/enrolments", {"trainee_ids": members}))
    for number, held in enumerate(sessions, start=1):
        session: dict[str, Any] = {"number": number, "held_on": held.on}
        session["hours"] = held.hours
        if held.topic:
            session["topic_code"] = held.topic
        await ok(await trainer.post(f"{path}/sessions", session))
        await ok(
            await trainer.put(
                f"{path}/sessions/{number}/attendance", {"present": held.present}
            )
        )
    return str(cohort["id"])


async def event_data(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    """The facts of the training outbox's events of one type, oldest first."""
    async with app.state.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT data FROM outbox_event WHERE type = :type "
                    "ORDER BY occurred_at, id"
                ),
                {"type": event_type},
            )
        ).all()
    return [row[0] for row in rows]


def trainee(**overrides: Any) -> dict[str, Any]:
    body = {
        "full_name": "Rana Khalil",
        "phone": "+964 750 000 1234",
        "email": "rana@example.org",
        "audience": "ngo",
        "affiliation": "Local NGO",
        "role": "psychosocial worker",
        "profession": "social worker",
        "sex": "female",
    }
    body.update(overrides)
    return body


async def cohort_of_trainees(
    client: httpx.AsyncClient, settings: TrainingSettings, workers: int = 5
) -> tuple[dict[str, str], dict[str, Any], list[str]]:
    headers = token(settings, uuid.uuid4(), Role.trainer)
    course = (
        await client.post(
            "/v1/courses",
            json={
                "title": "IPT-G foundations",
                "approach": "ipt_g",
                "level": "foundational",
                "planned_hours": 60,
            },
            headers=headers,
        )
    ).json()
    people = [
        (
            await client.post(
                "/v1/trainees",
                json=trainee(
                    full_name=f"Worker {i}", sex="female" if i % 2 else "male"
                ),
                headers=headers,
            )
        ).json()["id"]
        for i in range(workers)
    ]
    cohort = await client.post(
        "/v1/cohorts",
        json={
            "course_id": course["id"],
            "title": "Duhok cohort 1",
            "starts_on": "2026-03-01",
            "ends_on": "2026-03-10",
            "modality": "hybrid",
            "location": "Duhok",
        },
        headers=headers,
    )
    assert cohort.status_code == 201, cohort.text
    return headers, cohort.json(), people


FIDELITY_ITEMS = (
    "session_structure",
    "symptom_review",
    "problem_area_link",
    "group_participation",
    "empathy_between_members",
    "collaborative_problem_solving",
    "homework",
    "therapeutic_communication",
    "time_management",
    "risk_check",
)


SHA = "a" * 64


def ratings(level: int, harmful: str | None = None) -> dict[str, int]:
    items = {i.id: level for i in competency_tools()[TOOL].items}
    if harmful:
        items[harmful] = 1
    return items


TOOL = "helping_skills_core@1.0"
