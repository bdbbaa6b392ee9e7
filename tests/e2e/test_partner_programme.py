"""Issue 15's programme rebuilt through the HTTP APIs: a lead agency maps
40 civil-society organisations in one city, selects 35 against weighted
criteria (5 not, each with its reason), assesses their capacity, trains 92
of their staff in 18 sessions, mentors each organisation with a plan and two
visits with action points, closes with a workshop and measures the change
at follow-up, all under one donor-funded project of three months; every
figure is checked in the services and in reporting, the project's actuals
against its targets included.

``build_partner_arc`` sets up the organisations, the project and the
mentoring plans; the training, the visits and the workshop follow in the
test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.training.settings import TrainingSettings
from shared.auth import Role
from shared.taxonomy.capacity import capacity_tools
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller, Org
from tests.reporting.helpers import by_value, values
from tests.training.api import token

TOOL = "oca_mhpss@1.0"
MAPPED, SELECTED = 40, 35
CRITERIA: list[dict[str, Any]] = [
    {
        "code": "mhpss_experience",
        "label": "MHPSS experience",
        "weight": 3,
        "max_score": 5,
    },
    {
        "code": "community_reach",
        "label": "Community reach",
        "weight": 2,
        "max_score": 5,
    },
    {"code": "governance", "label": "Governance", "weight": 1, "max_score": 5},
]
EXCLUDED = {38: "ineligible_registration", 39: "outside_programme_area"}
PROJECT = {"start": "2026-02-01", "end": "2026-04-30"}  # three months
TARGETS: list[dict[str, Any]] = [
    {"indicator": "organisations_trained", "target": 35},
    {"indicator": "people_trained", "target": 90},
    {"indicator": "training_sessions_held", "target": 18},
    {"indicator": "organisations_mentored", "target": 35},
    {"indicator": "mentoring_visits", "target": 70},
    {"indicator": "action_points_completed", "target": 100},
    {"indicator": "meetings_held", "target": 1},
    {"indicator": "services_delivered", "target": 100},
    {"indicator": "capacity_change", "target": 0.5},
]
BASELINE_BUMP = {"governance": 0, "mhpss_technical": 0}
FOLLOW_UP_GAIN = {  # per item of each domain: the follow-up's level minus baseline
    "governance": [2, 1, 1],
    "mhpss_technical": [2, 2, 2],
    "safeguarding": [1, 1, 0],
    "finance": [0, 0, 0],
    "monitoring_evaluation": [1, 1, 1],
}


@dataclass
class PartnerArc:
    """What the rest of the programme attaches to."""

    lead: Org
    city_id: str
    project: str = ""
    organisations: list[str] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    plans: dict[str, str] = field(default_factory=dict)
    """Mentoring plan id per selected organisation."""


def review(i: int, reviewer: int) -> dict[str, float]:
    """Reviewer scores of organisation ``i``: the last five score lowest."""
    low = i >= SELECTED
    return {
        "mhpss_experience": (1 if low else 2 + i % 3) + reviewer % 2 * (i % 2),
        "community_reach": (2 if low else 3 + (i + reviewer) % 3),
        "governance": (1 + i % 2) if low else 4,
    }


def weighted(i: int) -> float:
    total = float(sum(c["weight"] for c in CRITERIA))
    score = 0.0
    for c in CRITERIA:
        mean = (review(i, 0)[c["code"]] + review(i, 1)[c["code"]]) / 2
        score += c["weight"] * (mean / c["max_score"])
    return round(100 * score / total, 2)


def band(score: float) -> str:
    return (
        "85-100"
        if score >= 85
        else "70-84"
        if score >= 70
        else ("50-69" if score >= 50 else "0-49")
    )


def levels(i: int, follow_up: bool) -> dict[str, Any]:
    base = 1 + i % 2
    tool = capacity_tools()[TOOL]
    return {
        item.id: {
            "level": base + (FOLLOW_UP_GAIN[d.code][n] if follow_up else 0),
            "evidence": f"Document {n} seen",
        }
        for d in tool.domains
        for n, item in enumerate(d.items)
    }


async def ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, (response.request.url, response.text)
    return response.json()


async def build_partner_arc(
    issue: Any,
    lead: Org,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> PartnerArc:
    manager: Caller = issue(lead, Role.programme_manager, subject="maryam")
    reviewers = [issue(lead, Role.me_officer, subject=f"rev{n}") for n in (1, 2)]
    places = await ok(
        await manager.get("/v1/locations", params={"level": "governorate"}), 200
    )
    arc = PartnerArc(lead=lead, city_id=places["items"][0]["id"])

    needs = await ok(
        await manager.post(
            "/v1/needs-assessments",
            {
                "conducted_on": "2026-01-05",
                "method": "household_survey",
                "location_id": arc.city_id,
                "population": "mixed",
                "sample_size": 94,
                "sample_unit": "households",
                "findings": [
                    {"topic": "psychological_distress", "severity": "high"},
                    {"topic": "community_conflict", "severity": "medium"},
                    {"topic": "livelihoods", "severity": "high"},
                ],
            },
        )
    )
    assert needs["sample_size"] == 94

    for i in range(MAPPED):
        profile = await ok(
            await manager.post(
                "/v1/partner-profiles",
                {
                    "organisation_id": str(uuid.uuid4()),
                    "name": f"City CSO {i:02d}",
                    "type": "cso",
                    "legal_status": "registered_ngo"
                    if i != 38
                    else "unregistered_group",
                    "area_location_ids": [arc.city_id],
                    "iasc_layers": ["community_family"],
                    "activity_codes": ["recreational_activity", "pfa"],
                    "languages": ["ar"],
                    "staff": [
                        {"role": "community_worker", "staff": 3, "volunteers": i}
                    ],
                    "network_memberships": ["mhpss_twg"],
                    "contact": {"name": f"Director {i}", "phone": "+964770000000"},
                },
            )
        )
        arc.organisations.append(profile["organisation_id"])
    await ok(
        await manager.post(
            "/v1/mapping-exercises",
            {
                "title": "CSOs relevant to psychosocial support in the city",
                "conducted_from": "2026-01-06",
                "conducted_to": "2026-01-20",
                "location_id": arc.city_id,
                "method": "key_informants",
                "findings": [
                    {
                        "organisation_id": o,
                        "location_ids": [arc.city_id],
                        "iasc_layers": ["community_family"],
                        "activity_codes": ["recreational_activity"],
                        "relevance": "high" if i < SELECTED else "low",
                    }
                    for i, o in enumerate(arc.organisations)
                ],
                "analysis": {
                    "service_gaps": ["group_counselling", "pfa"],
                    "recommended_organisation_ids": arc.organisations[:SELECTED],
                },
            },
        )
    )

    call = await ok(
        await manager.post(
            "/v1/selection-rounds",
            {"title": "Partners 2026", "opened_on": "2026-01-25", "criteria": CRITERIA},
        )
    )
    applications = [
        (
            await ok(
                await manager.post(
                    f"/v1/selection-rounds/{call['id']}/applications",
                    {"candidate_organisation_id": o, "channel": "application"},
                )
            )
        )["id"]
        for o in arc.organisations
    ]
    for i, application in enumerate(applications):
        for n, reviewer in enumerate(reviewers):
            await ok(
                await reviewer.post(
                    f"/v1/selection-rounds/{call['id']}/scores",
                    {"application_id": application, "scores": review(i, n)},
                )
            )
    ranking = await ok(
        await manager.get(f"/v1/selection-rounds/{call['id']}/ranking"), 200
    )
    again = await ok(
        await manager.get(f"/v1/selection-rounds/{call['id']}/ranking"), 200
    )
    assert ranking == again
    index = {o: i for i, o in enumerate(arc.organisations)}
    expected_order = sorted(
        range(MAPPED),
        key=lambda i: (
            -weighted(i),
            *(
                -(review(i, 0)[c] + review(i, 1)[c])
                for c in ("mhpss_experience", "community_reach", "governance")
            ),
            arc.organisations[i],
        ),
    )
    assert [
        index[r["candidate_organisation_id"]] for r in ranking["ranking"]
    ] == expected_order
    assert [r["score"] for r in ranking["ranking"]] == [
        weighted(i) for i in expected_order
    ]

    decided = await ok(
        await manager.post(
            f"/v1/selection-rounds/{call['id']}/decision",
            {
                "decided_on": "2026-02-01",
                "select_top": SELECTED,
                "exclusions": [
                    {"application_id": applications[i], "reason": reason}
                    for i, reason in EXCLUDED.items()
                ],
            },
            headers={"If-Match": '"1"'},
        ),
        200,
    )
    assert decided["status"] == "decided"
    outcome = (
        await ok(
            await manager.get(f"/v1/selection-rounds/{call['id']}/applications"), 200
        )
    )["items"]
    reasons = {
        index[a["candidate_organisation_id"]]: a["reason"]
        for a in outcome
        if a["outcome"] == "not_selected"
    }
    assert reasons == {
        35: "ranked_below_cutoff",
        36: "ranked_below_cutoff",
        37: "ranked_below_cutoff",
        **EXCLUDED,
    }
    arc.selected = arc.organisations[:SELECTED]
    assert sorted(
        index[a["candidate_organisation_id"]]
        for a in outcome
        if a["outcome"] == "selected"
    ) == list(range(SELECTED))

    for i, o in enumerate(arc.selected):
        await ok(
            await reviewers[0].post(
                "/v1/capacity-assessments",
                {
                    "assessed_organisation_id": o,
                    "tool": TOOL,
                    "timepoint": "baseline",
                    "assessed_on": "2026-02-05",
                    "items": levels(i, follow_up=False),
                },
            )
        )

    project = await ok(
        await manager.post(
            "/v1/projects",
            {
                "name": "Psychosocial capacity of city CSOs",
                "donor": "A foreign ministry",
                "grant_code": "FM-2026-02",
                **PROJECT,
                "partner_organisation_ids": arc.selected,
                "location_ids": [arc.city_id],
                "targets": TARGETS,
            },
        )
    )
    arc.project = project["id"]
    for o in arc.selected:  # the lead registered and selected them: it agrees
        partnership = await ok(
            await manager.post(
                "/v1/partnerships",
                {
                    "partner_organisation_id": o,
                    "project_id": arc.project,
                    **PROJECT,
                    "location_ids": [arc.city_id],
                },
            )
        )
        assert partnership["origin"] == "agreement"
    not_selected = arc.organisations[SELECTED]
    refused = await manager.post(
        "/v1/partnerships",
        {"partner_organisation_id": not_selected, **PROJECT},
    )
    assert refused.status_code == 403, refused.text

    mentor = token(training_settings, uuid.UUID(lead.id), Role.supervisor)
    for o in arc.selected:
        plan = await ok(
            await training_client.post(
                "/v1/mentoring-plans",
                json={
                    "id": str(uuid.uuid4()),
                    "mentored_organisation_id": o,
                    "project_id": arc.project,
                    "capacity_tool": TOOL,
                    "starts_on": "2026-02-10",
                    "ends_on": "2026-04-30",
                    "goals": [
                        {"code": "referral_sop", "capacity_domain": "mhpss_technical"},
                        {"code": "board_minutes", "capacity_domain": "governance"},
                    ],
                },
                headers=mentor,
            )
        )
        assert plan["project_id"] == arc.project
        arc.plans[o] = plan["id"]
    return arc


TOPICS = [  # the six sessions each cohort is taught, in order
    "psychosocial_support",
    "community_conflict_mediation",
    "individual_counselling",
    "group_counselling",
    "recreational_social_activities",
    "project_cycle_planning",
]
COHORTS = 3
PARTICIPANTS = 92
ABSENT = 5
"""Participant index absent from every cohort's first session (still
trained: present at the other five)."""


def employer(n: int, selected: list[str]) -> str:
    """Participant ``n``'s own organisation: 92 people from the 35, the
    first 22 organisations sending three and the other 13 two."""
    return selected[n % len(selected)]


async def train_the_partners(
    client: httpx.AsyncClient, lead: Org, settings: TrainingSettings, arc: PartnerArc
) -> list[tuple[str, int]]:
    """18 sessions (three cohorts of six) for 92 participants, each trainee
    naming their own organisation; every cohort is trained under the
    project. Answers each session as (cohort id, number)."""
    trainer = token(settings, uuid.UUID(lead.id), Role.trainer)

    async def call(path: str, body: Any, method: str = "POST") -> Any:
        r = await client.request(method, path, json=body, headers=trainer)
        assert r.status_code in (200, 201), (path, r.text)
        return r.json()

    course = await call(
        "/v1/courses",
        {
            "title": "Community psychosocial support for CSOs",
            "approach": "basic_helping_skills",
            "level": "foundational",
            "planned_hours": 36,
        },
    )
    people = [
        (
            await call(
                "/v1/trainees",
                {
                    "full_name": f"Participant {n:02d}",
                    "audience": "cso",
                    "affiliation": f"City CSO {n % len(arc.selected):02d}",
                    "affiliation_organisation_id": employer(n, arc.selected),
                    "role": "community worker",
                    "profession": "social worker",
                    "sex": "female" if n % 2 else "male",
                },
            )
        )["id"]
        for n in range(PARTICIPANTS)
    ]
    sessions = []
    for k in range(COHORTS):
        members = people[k::COHORTS]
        cohort = await call(
            "/v1/cohorts",
            {
                "course_id": course["id"],
                "title": f"CSO cohort {k + 1}",
                "starts_on": "2026-02-14",
                "ends_on": "2026-04-30",
                "modality": "in_person",
                "site_id": None,
                "project_id": arc.project,
            },
        )
        assert cohort["project_id"] == arc.project
        path = f"/v1/cohorts/{cohort['id']}"
        await call(f"{path}/enrolments", {"trainee_ids": members})
        for s, topic in enumerate(TOPICS, start=1):
            held = date(2026, 2, 14) + timedelta(days=14 * (s - 1) + k)
            await call(
                f"{path}/sessions",
                {
                    "number": s,
                    "held_on": held.isoformat(),
                    "hours": 6,
                    "topic_code": topic,
                },
            )
            sessions.append((cohort["id"], s))
            present = [m for m in members if s > 1 or m != members[ABSENT]]
            await call(f"{path}/sessions/{s}/attendance", {"present": present}, "PUT")
    return sessions


async def closing_workshop(manager: Caller, arc: PartnerArc) -> None:
    """The closing workshop, a meeting of the lead with two people from each
    of the 35 organisations, held under the project."""
    r = await manager.post(
        "/v1/group-activities",
        {
            "activity_code": "coordination_meeting",
            "activity_date": "2026-04-28",
            "site_id": None,
            "duration_minutes": 240,
            "facilitator_staff_ids": ["staff-1"],
            "anonymous_attendees": [
                {"sex": "female", "age_group": "adult", "count": 38},
                {"sex": "male", "age_group": "adult", "count": 32},
            ],
            "project_id": arc.project,
            "delivery_mode": "centre",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["project_id"] == arc.project


SERVED = 4
"""People the lead's own staff counselled under the project (twice each)."""


async def services_under_the_project(worker: Caller, arc: PartnerArc) -> None:
    for n in range(SERVED):
        person = await make_beneficiary(worker, full_name=f"Client {n}")
        for day in ("2026-03-02", "2026-03-16"):
            record = await record_service(
                worker,
                person["id"],
                service_date=day,
                project_id=arc.project,
                delivery_mode="outreach_visit",
            )
            assert record["project_id"] == arc.project
    outside = await make_beneficiary(worker, full_name="Client outside")
    await record_service(worker, outside["id"], service_date="2026-03-03")


VISITS = [  # (day after 2026-02-10, mode, minutes, action points)
    (7, "in_person", 120, 2),
    (40, "remote_video", 60, 1),
]


@pytest.mark.long
async def test_the_partner_programme_from_mapping_to_follow_up(
    linked_training: FastAPI,
    issue: Any,
    orgs: dict[str, Org],
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    arc = await build_partner_arc(issue, orgs["a"], training_client, training_settings)
    sessions = await train_the_partners(
        training_client, orgs["a"], training_settings, arc
    )
    assert len(set(sessions)) == 18 == COHORTS * len(TOPICS)
    worker = issue(orgs["a"], Role.case_worker)
    await services_under_the_project(worker, arc)
    await closing_workshop(worker, arc)
    mentor = token(training_settings, uuid.UUID(orgs["a"].id), Role.supervisor)
    start = date(2026, 2, 10)
    done = 0
    for n, o in enumerate(arc.selected):
        points = []
        for offset, mode, minutes, count in VISITS:
            visit = await ok(
                await training_client.post(
                    f"/v1/mentoring-plans/{arc.plans[o]}/visits",
                    json={
                        "id": str(uuid.uuid4()),
                        "held_on": (start + timedelta(days=offset)).isoformat(),
                        "mode": mode,
                        "duration_minutes": minutes,
                        "participants": 3,
                        "topics": ["referral_pathways", "governance"],
                        "goal_codes": ["referral_sop"],
                        "observations": "Referral SOP drafted; not yet used.",
                        "action_points": [
                            {
                                "id": str(uuid.uuid4()),
                                "description": f"Action {k}",
                                "owner": "CSO director",
                                "due_on": (
                                    start + timedelta(days=offset + 14)
                                ).isoformat(),
                            }
                            for k in range(count)
                        ],
                    },
                    headers=mentor,
                )
            )
            points += visit["action_points"]
        finish = points if n < 20 else points[:2]  # the first 20 do all three
        for point in finish:
            if n == 0:
                moved = await training_client.post(
                    f"/v1/action-points/{point['id']}/status",
                    json={"status": "in_progress", "on": "2026-03-25"},
                    headers={**mentor, "If-Match": '"1"'},
                )
                assert moved.status_code == 200, moved.text
                stale = await training_client.post(
                    f"/v1/action-points/{point['id']}/status",
                    json={"status": "done", "on": "2026-03-26"},
                    headers={**mentor, "If-Match": '"1"'},
                )
                assert stale.status_code == 409
            version = 2 if n == 0 else 1
            closed = await training_client.post(
                f"/v1/action-points/{point['id']}/status",
                json={"status": "done", "on": "2026-04-01"},
                headers={**mentor, "If-Match": f'"{version}"'},
            )
            assert closed.status_code == 200, closed.text
            done += 1
    assert done == 20 * 3 + 15 * 2

    progress = await ok(
        await training_client.get(
            f"/v1/mentoring-plans/{arc.plans[arc.selected[0]]}", headers=mentor
        ),
        200,
    )
    assert (progress["visits"], progress["hours"]) == (2, 3.0)
    assert progress["action_points"] == {
        "open": 0,
        "in_progress": 0,
        "done": 3,
        "dropped": 0,
    }

    assessor = issue(orgs["a"], Role.me_officer)
    for i, o in enumerate(arc.selected):
        await ok(
            await assessor.post(
                "/v1/capacity-assessments",
                {
                    "assessed_organisation_id": o,
                    "tool": TOOL,
                    "timepoint": "follow_up",
                    "assessed_on": "2026-04-30",
                    "items": levels(i, follow_up=True),
                    "mentoring_plan_id": arc.plans[o],
                    "project_id": arc.project,
                },
            )
        )
    expected_change = {
        d: round(sum(g) / len(g), 2) for d, g in FOLLOW_UP_GAIN.items()
    }  # the same for every organisation: baselines differ, gains do not
    change = await ok(await assessor.get("/v1/capacity-change"), 200)
    assert {d["domain"]: d["mean_change"] for d in change["domains"]} == (
        expected_change
    )
    assert {d["organisations"] for d in change["domains"]} == {SELECTED}
    one = arc.selected[3]
    for_plan = await ok(
        await assessor.get(
            "/v1/capacity-change", params={"mentoring_plan_id": arc.plans[one]}
        ),
        200,
    )
    assert [o["organisation_id"] for o in for_plan["organisations"]] == [one]

    profile = await ok(await assessor.get(f"/v1/partner-profiles/{one}"), 200)
    assert profile["programme_status"] == "partner"
    assert [h["event"] for h in profile["history"]] == [
        "profiled_prospective",
        "mapped",
        "application",
        "selected",
        "capacity_baseline",
        "partnership",
        "capacity_follow_up",
    ]
    led = await ok(await assessor.get(f"/v1/organisations/{one}"), 200)
    assert led["lead_organisation_id"] == orgs["a"].id

    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)

    async def total(indicator: str, **params: Any) -> Any:
        body = await values(reporting_client, reader, indicator, **params)
        return body["total"]["value"] if not params else by_value(body)

    assert await total("organisations_mapped") == MAPPED
    assert await total("organisations_assessed") == SELECTED
    assert await total("organisations_selected") == SELECTED
    bands: dict[str, int] = {}
    for i in range(SELECTED):
        bands[band(weighted(i))] = bands.get(band(weighted(i)), 0) + 1
    assert await total("organisations_selected", by="score_band") == bands
    assert await total("organisations_mentored") == SELECTED
    assert await total("mentoring_visits") == SELECTED * len(VISITS)
    assert await total("mentoring_visits", by="mode") == {
        "in_person": SELECTED,
        "remote_video": SELECTED,
    }
    assert await total("mentoring_hours") == SELECTED * 3
    assert await total("action_points_completed") == done
    assert await total("capacity_change", by="domain") == expected_change
    # The follow-ups name the project; their baselines (taken before it was
    # set up) pair with them all the same.
    overall = round(sum(expected_change.values()) / len(expected_change), 2)
    assert await total("capacity_change", by="project") == {arc.project: overall}
    in_project = await values(
        reporting_client, reader, "capacity_change", project=arc.project, by="domain"
    )
    assert by_value(in_project) == expected_change
    named = await values(reporting_client, reader, "capacity_change", by="project")
    assert named["labels"]["project"] == {
        arc.project: "Psychosocial capacity of city CSOs"
    }  # reports name the project

    # The training: participants counted by their own organisations.
    assert await total("organisations_trained") == SELECTED
    assert await total("people_trained") == PARTICIPANTS
    assert await total("training_sessions_held") == 18
    sent: dict[str, int] = {}
    for n in range(PARTICIPANTS):
        sent[employer(n, arc.selected)] = sent.get(employer(n, arc.selected), 0) + 1
    assert sorted(sent.values()) == [2] * 13 + [3] * 22
    assert await total("people_trained", by="participant_organisation") == sent
    assert await total("training_sessions_held", by="topic") == dict.fromkeys(
        TOPICS, COHORTS
    )
    members = [len(range(k, PARTICIPANTS, COHORTS)) for k in range(COHORTS)]
    attended = sum(members) * len(TOPICS) - COHORTS  # one absence per cohort
    assert await total("capacity_building_participations") == attended
    assert await total("training_hours") == attended * 6

    # Everything of the programme is the project's: by project it is all one
    # value, but for the service given outside it.
    project = arc.project
    by_project = {
        "organisations_trained": {project: SELECTED},
        "people_trained": {project: PARTICIPANTS},
        "training_sessions_held": {project: 18},
        "organisations_mentored": {project: SELECTED},
        "mentoring_visits": {project: SELECTED * len(VISITS)},
        "mentoring_hours": {project: SELECTED * 3},
        "action_points_completed": {project: done},
        "meetings_held": {project: 1},
        "group_attendance": {project: 70},
        "meeting_participants": {project: 70},
        "capacity_building_services": {project: attended},
        "services_delivered": {project: SERVED * 2 + 70, "unknown": 1},
        "people_reached": {project: SERVED, "unknown": 1},
    }
    for indicator, expected in by_project.items():
        assert await total(indicator, by="project") == expected, indicator
    inside = await values(
        reporting_client,
        reader,
        "services_delivered",
        project=project,
        by="delivery_mode",
    )
    assert by_value(inside) == {"outreach_visit": SERVED * 2, "centre": 70}

    # Actuals against targets, over the project's three months.
    r = await reporting_client.get(
        f"/v1/projects/{project}/progress", headers=reader.headers()
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["start"], body["end"]) == (PROJECT["start"], PROJECT["end"])
    progress = {
        t["indicator"]: (t["target"], t["actual"], t["percent"], t["note"])
        for t in body["targets"]
    }
    assert progress == {
        "organisations_trained": (35, SELECTED, 100.0, None),
        "people_trained": (90, PARTICIPANTS, 102.2, None),
        "training_sessions_held": (18, 18, 100.0, None),
        "organisations_mentored": (35, SELECTED, 100.0, None),
        "mentoring_visits": (70, SELECTED * len(VISITS), 100.0, None),
        "action_points_completed": (100, done, 90.0, None),
        "meetings_held": (1, 1, 100.0, None),
        "services_delivered": (100, SERVED * 2 + 70, 78.0, None),
        "capacity_change": (0.5, overall, round(overall / 0.5 * 100, 1), None),
    }
