"""Training figures by course, approach, level, modality, topic, place and
the participants' own organisations, recorded through the training API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.callers import Org, ok
from tests.reporting.helpers import by_value, refused_query, values
from tests.training.api import token, trainee, training_caller

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}


async def record_two_trainings(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    orgs: dict[str, Org],
    site_ids: list[str],
) -> dict[str, Any]:
    """A PFA foundational course at one site (two sessions, on PFA then on
    suicide prevention) and an online case-management ToT with the partner
    at another: t1-t3 work for the partner, t4-t5 for org B (government),
    t6 for an organisation not on the list."""

    async def call(path: str, body: Any, method: str = "POST") -> Any:
        r = await client.request(method, path, json=body, headers=headers)
        assert r.status_code in (200, 201), r.text
        return r.json()

    employers = {
        "t1": ("ngo", orgs["partner"].id),
        "t2": ("ngo", orgs["partner"].id),
        "t3": ("ngo", orgs["partner"].id),
        "t4": ("government", orgs["b"].id),
        "t5": ("government", orgs["b"].id),
        "t6": ("cso", None),
    }
    t = {}
    for name, (audience, employer) in employers.items():
        body = trainee(
            full_name=f"Trainee {name}",
            audience=audience,
            affiliation_organisation_id=employer,
        )
        t[name] = (await call("/v1/trainees", body))["id"]

    async def training(
        approach: str,
        level: str,
        modality: str,
        site: str,
        partner: str | None,
        sessions: list[tuple[str, str, list[str]]],
    ) -> str:
        course = await call(
            "/v1/courses",
            {
                "title": f"{approach} {level}",
                "approach": approach,
                "level": level,
                "planned_hours": 6,
            },
        )
        cohort = await call(
            "/v1/cohorts",
            {
                "course_id": course["id"],
                "title": f"{approach} {level} 2026",
                "starts_on": "2026-03-01",
                "ends_on": "2026-03-31",
                "modality": modality,
                "site_id": site,
                "partner_organisation_id": partner,
            },
        )
        assert cohort["site_id"] == site
        members = sorted({m for _, _, present in sessions for m in present})
        await call(
            f"/v1/cohorts/{cohort['id']}/enrolments",
            {"trainee_ids": [t[m] for m in members]},
        )
        for number, (day, topic, present) in enumerate(sessions, start=1):
            await call(
                f"/v1/cohorts/{cohort['id']}/sessions",
                {"number": number, "held_on": day, "hours": 3, "topic_code": topic},
            )
            await call(
                f"/v1/cohorts/{cohort['id']}/sessions/{number}/attendance",
                {"present": [t[m] for m in present]},
                method="PUT",
            )
        return str(course["id"])

    pfa = await training(
        "pfa",
        "foundational",
        "in_person",
        site_ids[0],
        None,
        [
            ("2026-03-02", "pfa", ["t1", "t2", "t3", "t4"]),
            ("2026-03-03", "suicide_prevention", ["t1", "t2"]),
        ],
    )
    tot = await training(
        "case_management",
        "tot",
        "online",
        site_ids[1],
        orgs["partner"].id,
        [("2026-03-10", "case_management", ["t4", "t5", "t6"])],
    )
    return {"pfa": pfa, "tot": tot, "trainees": t}


async def test_people_trained_by_every_training_dimension(
    linked_training: FastAPI,
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    headers = token(training_settings, uuid.UUID(orgs["a"].id), Role.trainer)
    courses = await record_two_trainings(training_client, headers, orgs, site_ids)
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)

    async def trained(by: str, indicator: str = "people_trained") -> dict[Any, Any]:
        return by_value(
            await values(reporting_client, reader, indicator, **YEAR, by=by)
        )

    pfa, tot = courses["pfa"], courses["tot"]
    assert await trained("course") == {pfa: 4, tot: 3}
    assert await trained("approach") == {"pfa": 4, "case_management": 3}
    assert await trained("course_level") == {"foundational": 4, "tot": 3}
    assert await trained("training_modality") == {"in_person": 4, "online": 3}
    assert await trained("topic") == {
        "pfa": 4,
        "suicide_prevention": 2,
        "case_management": 3,
    }
    assert await trained("site") == {site_ids[0]: 4, site_ids[1]: 3}
    assert await trained("partner_organisation") == {
        "unknown": 4,
        orgs["partner"].id: 3,
    }
    assert await trained("participant_organisation") == {
        orgs["partner"].id: 3,
        orgs["b"].id: 2,
        "unknown": 1,
    }
    assert await trained("course,audience") == {
        (pfa, "ngo"): 3,
        (pfa, "government"): 1,
        (tot, "government"): 2,
        (tot, "cso"): 1,
    }
    participations = await trained("course", "capacity_building_participations")
    assert participations == {pfa: 6, tot: 3}
    hours = await trained("approach", "training_hours")
    assert hours == {"pfa": 18, "case_management": 9}

    organisations = await values(
        reporting_client, reader, "organisations_trained", **YEAR, by="course"
    )
    assert by_value(organisations) == {pfa: 2, tot: 1}  # t6's is not on the list
    assert organisations["total"]["value"] == 2  # the partner and org B, once
    sessions = await values(
        reporting_client, reader, "training_sessions_held", **YEAR, by="course"
    )
    assert by_value(sessions) == {pfa: 2, tot: 1}
    assert sessions["total"]["value"] == 3

    # erased, t4 is still trained but no longer works anywhere on record
    manager = token(training_settings, uuid.UUID(orgs["a"].id), Role.programme_manager)
    r = await training_client.post(
        f"/v1/trainees/{courses['trainees']['t4']}/erasure",
        headers=manager | {"X-Access-Reason": "written request, ref DP-9"},
    )
    assert r.status_code == 200, r.text
    await catch_up()
    assert await trained("course") == {pfa: 4, tot: 3}
    assert await trained("participant_organisation") == {
        orgs["partner"].id: 3,
        orgs["b"].id: 1,
        "unknown": 2,
    }

    await refused_query(
        reporting_client, reader, "people_trained", **YEAR, training_modality="onlin"
    )


async def test_capacity_building_parts_add_up_to_the_family_total(
    linked_training: FastAPI,
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """Training attended (9: ngo 5, government 3, cso 1), supervision (4 to
    ngo staff), coaching (1 to government) and mentoring (government 1, cso
    1): 16 services, by part and by audience."""
    headers = token(
        training_settings, uuid.UUID(orgs["a"].id), Role.trainer, Role.supervisor
    )
    recorded = await record_two_trainings(training_client, headers, orgs, site_ids)
    t = recorded["trainees"]
    for kind, purpose, day, supervisees in [
        ("group", "supervision", "2026-04-01", ["t1", "t2", "t3"]),
        ("individual", "supervision", "2026-04-08", ["t1"]),
        ("individual", "coaching", "2026-04-09", ["t4"]),
        ("group", "mentoring", "2026-05-02", ["t5", "t6"]),
    ]:
        r = await training_client.post(
            "/v1/supervision-sessions",
            json={
                "kind": kind,
                "purpose": purpose,
                "mode": "in_person",
                "held_on": day,
                "duration_minutes": 60,
                "supervisee_trainee_ids": [t[s] for s in supervisees],
            },
            headers=headers,
        )
        assert r.status_code == 201, r.text
        assert r.json()["purpose"] == purpose
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)

    family = await values(
        reporting_client,
        reader,
        "capacity_building_services",
        **YEAR,
        by="component,audience",
    )
    cells = by_value(family)
    assert cells == {
        ("training", "ngo"): 5,
        ("training", "government"): 3,
        ("training", "cso"): 1,
        ("supervision", "ngo"): 4,
        ("coaching", "government"): 1,
        ("mentoring", "government"): 1,
        ("mentoring", "cso"): 1,
    }
    assert family["total"]["value"] == sum(cells.values()) == 16
    for part, expected in [("training", 9), ("supervision", 4), ("coaching", 1)]:
        part_only = await values(
            reporting_client,
            reader,
            "capacity_building_services",
            **YEAR,
            component=part,
        )
        assert part_only["total"]["value"] == expected
    audiences = await values(
        reporting_client, reader, "capacity_building_services", **YEAR, by="audience"
    )
    assert by_value(audiences) == {"ngo": 9, "government": 5, "cso": 2}
    trained = await values(
        reporting_client, reader, "capacity_building_participations", **YEAR
    )
    assert trained["total"]["value"] == 9  # the training part is the same count


async def test_supervision_indicators_count_supervision_not_coaching_or_mentoring(
    issue: Any,
    orgs: dict[str, Org],
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """Certification counts clinical supervision only; so do the supervision
    indicators, while capacity building counts every part."""
    trainer = training_caller(
        training_settings, training_client, orgs["a"], Role.supervisor
    )
    t = [
        (await ok(await trainer.post("/v1/trainees", trainee())))["id"]
        for _ in range(3)
    ]
    for purpose, minutes, supervisees in [
        ("supervision", 90, t[:2]),
        ("coaching", 60, t[2:]),
        ("mentoring", 30, t[:1]),
    ]:
        await ok(
            await trainer.post(
                "/v1/supervision-sessions",
                {
                    "kind": "group" if len(supervisees) > 1 else "individual",
                    "purpose": purpose,
                    "mode": "virtual",
                    "held_on": "2026-04-01",
                    "duration_minutes": minutes,
                    "supervisee_trainee_ids": supervisees,
                },
            )
        )
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)
    april = {"start": "2026-04-01", "end": "2026-04-30"}
    for indicator, expected in [
        ("supervision_sessions", 1),
        ("supervision_hours", 1.5),
        ("supervision_hours_per_provider_month", 1.5),  # 1.5 x 2 / (2 x 1)
    ]:
        found = await values(reporting_client, reader, indicator, **april)
        assert found["total"]["value"] == expected, indicator
    family = await values(
        reporting_client, reader, "capacity_building_services", **april, by="component"
    )
    assert by_value(family) == {"supervision": 2, "coaching": 1, "mentoring": 1}
