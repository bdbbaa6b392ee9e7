"""Every figure of the training summary, for a cohort and for a period."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.training.api import token, trainee


async def post(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    path: str,
    body: Any,
    method: str = "POST",
) -> Any:
    r = await client.request(method, path, json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


async def test_summary_figures(
    training_client: httpx.AsyncClient, training_settings: TrainingSettings
) -> None:
    headers = token(training_settings, uuid.uuid4(), Role.trainer, Role.supervisor)
    course = await post(
        training_client,
        headers,
        "/v1/courses",
        {
            "title": "IPT-G",
            "approach": "ipt_g",
            "level": "foundational",
            "planned_hours": 12,
            "criteria": {"min_attendance_share": 0.5, "min_post_test_score": 70},
        },
    )
    specs = [
        ("female", "ngo"),
        ("female", "government"),
        ("male", "ngo"),
        ("male", "cso"),
    ]
    people = [
        (
            await post(
                training_client,
                headers,
                "/v1/trainees",
                trainee(sex=sex, audience=audience),
            )
        )["id"]
        for sex, audience in specs
    ]
    cohort = await post(
        training_client,
        headers,
        "/v1/cohorts",
        {
            "course_id": course["id"],
            "title": "Cohort",
            "starts_on": "2026-03-01",
            "ends_on": "2026-03-02",
            "modality": "online",
        },
    )
    path = f"/v1/cohorts/{cohort['id']}"
    await post(training_client, headers, f"{path}/enrolments", {"trainee_ids": people})
    for n in (1, 2):
        await post(
            training_client,
            headers,
            f"{path}/sessions",
            {"number": n, "held_on": f"2026-03-0{n}", "hours": 6},
        )
    await post(
        training_client,
        headers,
        f"{path}/sessions/1/attendance",
        {"present": people[:3]},
        method="PUT",
    )
    await post(
        training_client,
        headers,
        f"{path}/sessions/2/attendance",
        {"present": people[:2]},
        method="PUT",
    )
    await post(
        training_client,
        headers,
        f"{path}/knowledge-tests",
        {
            "kind": "pre",
            "taken_on": "2026-03-01",
            "results": [{"trainee_id": p, "score": 50} for p in people[:3]],
        },
    )
    await post(
        training_client,
        headers,
        f"{path}/knowledge-tests",
        {
            "kind": "post",
            "taken_on": "2026-03-02",
            "results": [
                {"trainee_id": p, "score": s}
                for p, s in zip(people[:3], [80, 90, 60], strict=True)
            ],
        },
    )
    await post(
        training_client,
        headers,
        "/v1/supervision-sessions",
        {
            "kind": "group",
            "mode": "virtual",
            "held_on": "2026-03-05",
            "duration_minutes": 90,
            "supervisee_trainee_ids": people[:2],
            "cases_discussed": 3,
        },
    )

    r = await training_client.get(
        "/v1/training-summary", params={"cohort_id": cohort["id"]}, headers=headers
    )
    summary = r.json()
    assert summary["people_trained"] == 3  # the fourth never came
    assert summary["by_sex"] == {"female": 2, "male": 1}
    assert summary["by_audience"] == {"ngo": 2, "government": 1}
    assert summary["hours_delivered"] == 12
    assert summary["enrolled"] == 4
    assert summary["completion_rate"] == 0.5  # two reach 70 with >= 50 % attendance
    assert summary["mean_pre_test"] == 50
    assert summary["mean_test_change"] == 26.67
    assert summary["supervision_sessions"] == 1
    assert summary["supervision_hours"] == 1.5
    # the cohort (ngo, government, cso) and the supervision (ngo, government)
    assert summary["activities_by_audience"] == {"ngo": 2, "government": 2, "cso": 1}
    period = (
        await training_client.get(
            "/v1/training-summary",
            params={"date_from": "2026-03-02", "date_to": "2026-03-31"},
            headers=headers,
        )
    ).json()
    assert period["hours_delivered"] == 6
    assert period["people_trained"] == 2
    empty = (
        await training_client.get(
            "/v1/training-summary",
            params={"date_from": "2025-01-01", "date_to": "2025-12-31"},
            headers=headers,
        )
    ).json()
    assert (empty["cohorts"], empty["completion_rate"]) == (0, None)
