"""Two organisations may hold the same training-service ids (decision 0006):
reporting keeps their training facts apart, each organisation's figures
count its own trainee, supervision and result (a lead counts its partner's
apart from its own), and erasing one trainee pseudonymises no one else's."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.reporting.helpers import by_value, values
from tests.training.api import token, trainee


async def _facts(reporting_app: FastAPI, table: str, trainee_id: str) -> list[Any]:
    """The organisations holding facts about this trainee id."""
    async with reporting_app.state.engine.connect() as connection:
        found = await connection.execute(
            text(
                f"SELECT DISTINCT organisation_id FROM {table} WHERE trainee_id = :id "
                "ORDER BY organisation_id"
            ),
            {"id": trainee_id},
        )
        return [str(row[0]) for row in found]


async def test_the_same_training_ids_in_two_organisations_count_apart(
    issue: Any,
    orgs: Any,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    ids = {name: str(uuid.uuid4()) for name in ("trainee", "supervision", "cohort")}
    ids["course"] = ""
    minutes = {"a": 60, "partner": 90}
    for org, sex in (("a", "female"), ("partner", "male")):
        headers = token(
            training_settings,
            uuid.UUID(orgs[org].id),
            Role.trainer,
            Role.supervisor,
        )

        async def call(
            path: str, body: Any, method: str = "POST", headers: Any = headers
        ) -> Any:
            r = await training_client.request(method, path, json=body, headers=headers)
            assert r.status_code in (200, 201), r.text
            return r.json()

        await call("/v1/trainees", trainee(id=ids["trainee"], sex=sex))
        await call(
            "/v1/supervision-sessions",
            {
                "id": ids["supervision"],
                "kind": "individual",
                "mode": "in_person",
                "held_on": "2026-04-03",
                "duration_minutes": minutes[org],
                "supervisee_trainee_ids": [ids["trainee"]],
            },
        )
        if not ids["course"]:
            course = {
                "title": "PFA",
                "approach": "pfa",
                "level": "foundational",
                "planned_hours": 3,
            }
            ids["course"] = (await call("/v1/courses", course))["id"]
        cohort = f"/v1/cohorts/{ids['cohort']}"
        await call(
            "/v1/cohorts",
            {
                "id": ids["cohort"],
                "course_id": ids["course"],
                "title": "PFA 2026",
                "starts_on": "2026-03-01",
                "ends_on": "2026-03-31",
                "modality": "in_person",
            },
        )
        await call(f"{cohort}/enrolments", {"trainee_ids": [ids["trainee"]]})
        held = {"number": 1, "held_on": "2026-03-02", "hours": 3}
        await call(f"{cohort}/sessions", held)
        await call(
            f"{cohort}/sessions/1/attendance", {"present": [ids["trainee"]]}, "PUT"
        )
        await call(f"{cohort}/certify", {"on": "2026-03-31"})
    await catch_up()

    both = sorted([orgs["a"].id, orgs["partner"].id])
    for table in ("trainee_fact", "attendance_fact", "capacity_fact", "result_fact"):
        assert await _facts(reporting_app, table, ids["trainee"]) == both, table
    partner = issue(orgs["partner"], Role.me_officer)
    hours = await values(reporting_client, partner, "supervision_hours")
    assert hours["total"]["value"] == 1.5
    trained = await values(reporting_client, partner, "people_trained", by="sex")
    assert by_value(trained) == {"male": 1}
    lead = issue(orgs["a"], Role.me_officer)  # sees its partner's work too
    hours = await values(reporting_client, lead, "supervision_hours")
    assert hours["total"]["value"] == 2.5
    trained = await values(reporting_client, lead, "people_trained", by="sex")
    assert by_value(trained) == {"female": 1, "male": 1}
    assert trained["total"]["value"] == 2
    certified = await values(reporting_client, lead, "people_certified")
    assert certified["total"]["value"] == 2

    manager = token(training_settings, uuid.UUID(orgs["a"].id), Role.programme_manager)
    r = await training_client.post(
        f"/v1/trainees/{ids['trainee']}/erasure",
        headers=manager | {"X-Access-Reason": "written request, ref DP-9"},
    )
    assert r.status_code == 200, r.text
    await catch_up()
    for table in ("trainee_fact", "attendance_fact", "capacity_fact", "result_fact"):
        assert await _facts(reporting_app, table, ids["trainee"]) == [
            orgs["partner"].id
        ]
    trained = await values(reporting_client, partner, "people_trained", by="sex")
    assert by_value(trained) == {"male": 1}
    trained = await values(reporting_client, lead, "people_trained", by="sex")
    assert by_value(trained) == {"female": 1, "male": 1}  # still counted
