"""Object-level authorisation: walk every route with another organisation's
token and expect nothing of the first organisation's data."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from shared.taxonomy.capacity import capacity_tools
from tests.beneficiary.api import (
    beneficiary_body,
    count_rows,
    give_consent,
    make_beneficiary,
    record_service,
)
from tests.callers import Caller
from tests.sweep import Call, Route, assert_refused, routes

# Directory data every authenticated caller may read (not owned by an org).
SHARED_DIRECTORY = {
    "/v1/organisations/{organisation_id}",
    "/v1/locations/{location_id}",
}
# The caller's own organisation's settings, named by kind: there is no other
# organisation's id in the path to guess (test_retention covers the scoping).
OWN_SETTINGS = {"/v1/retention/policies/{record_type}"}

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/organisations/{organisation_id}/lead-approval"): {},
    ("PATCH", "/v1/teams/{team_id}"): {"name": "Hostile"},
    ("PATCH", "/v1/organisations/{organisation_id}"): {"default_language": "ar"},
    ("PATCH", "/v1/projects/{project_id}"): {"donor": "Hostile"},
    ("PATCH", "/v1/partnerships/{partnership_id}"): {"end": "2026-01-31"},
    ("POST", "/v1/beneficiaries/{beneficiary_id}/erasure"): {},
    ("PATCH", "/v1/beneficiaries/{beneficiary_id}"): {"marital_status": "single"},
    ("POST", "/v1/beneficiaries/{beneficiary_id}/merge"): {
        "duplicate_id": str(uuid.uuid4())
    },
    ("POST", "/v1/beneficiaries/{beneficiary_id}/consents"): [
        {"purpose": "services", "granted": False, "form_version": "x"}
    ],
    ("PATCH", "/v1/service-records/{record_id}"): {"duration_minutes": 5},
    ("POST", "/v1/service-records/{record_id}/void"): {"reason": "hostile"},
    ("POST", "/v1/material-distributions/{distribution_id}/void"): {
        "reason": "hostile"
    },
    ("POST", "/v1/sync/conflicts/{conflict_id}/resolve"): {
        "resolution": "apply_client"
    },
    ("POST", "/v1/cases/{case_id}/transitions"): {
        "status": "active",
        "on": "2026-03-02",
    },
    ("PATCH", "/v1/cases/{case_id}"): {"presenting_problems": ["anxiety"]},
    ("POST", "/v1/cases/{case_id}/risk-flags"): {"flag": "child_protection"},
    ("POST", "/v1/beneficiaries/{beneficiary_id}/risk-flags"): {
        "flag": "harm_to_others",
        "supervisor": "sam",
    },
    ("PUT", "/v1/cases/{case_id}/plan"): {"goals": ["hostile goal"]},
    ("POST", "/v1/enrolments/{enrolment_id}/sessions"): {
        "session_number": 1,
        "attended_on": "2026-03-03",
    },
    ("POST", "/v1/enrolments/{enrolment_id}/drop-out"): {"on": "2026-03-03"},
    ("POST", "/v1/enrolments/{enrolment_id}/finish"): {"on": "2026-03-03"},
    ("POST", "/v1/cases/{case_id}/follow-ups"): {"on": "2026-03-03"},
    ("POST", "/v1/cases/{case_id}/safety-plans"): {"warning_signs": ["x"]},
    ("POST", "/v1/referrals/{referral_id}/status"): {
        "status": "declined",
        "on": "2026-03-03",
    },
    ("POST", "/v1/risk-alerts/{alert_id}/acknowledge"): {"action_taken": "hostile"},
    ("POST", "/v1/break-glass/{grant_id}/revoke"): {},
    ("POST", "/v1/imports/{import_id}/resume"): {},
    ("POST", "/v1/sharing-agreements/{agreement_id}/revoke"): {},
    ("POST", "/v1/sharing-agreements/{agreement_id}/exports"): {},
    ("PATCH", "/v1/partner-profiles/{organisation_id}"): {"languages": ["en"]},
    ("PUT", "/v1/selection-rounds/{round_id}/criteria"): {
        "criteria": [{"code": "x", "label": "X", "weight": 1, "max_score": 5}]
    },
    ("POST", "/v1/selection-rounds/{round_id}/applications"): {
        "candidate_organisation_id": str(uuid.uuid4()),
        "channel": "application",
    },
    ("POST", "/v1/selection-rounds/{round_id}/scores"): {
        "application_id": str(uuid.uuid4()),
        "scores": {"reach": 1},
    },
    ("POST", "/v1/selection-rounds/{round_id}/decision"): {
        "decided_on": "2026-03-03",
        "select_top": 1,
    },
    ("POST", "/v1/cases/{case_id}/assessments"): {
        "instrument": "who5",
        "timepoint": "follow_up",
        "administered_on": "2026-03-02",
        "responses": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1},
    },
}


async def alices_world(
    alice: Caller, issue: Any, site_ids: list[str]
) -> dict[str, str]:
    """One of every object org A owns, including an open sync conflict and
    an open duplicate pair."""
    person = await make_beneficiary(alice, site_id=site_ids[0])
    twin = await make_beneficiary(
        alice,
        site_id=site_ids[0],
        full_name=person["full_name"],
        date_of_birth=person["date_of_birth"],
    )
    assert twin["possible_duplicates"] == [person["id"]]
    record = await record_service(alice, person["id"])
    group = await alice.post(
        "/v1/group-activities",
        {
            "activity_code": "caregiver_session",
            "activity_date": "2026-03-01",
            "attendee_ids": [person["id"]],
        },
    )
    materials = await alice.post(
        "/v1/material-distributions",
        {
            "group_activity_id": group.json()["id"],
            "item_code": "leaflet",
            "quantity": 9,
        },
    )
    assert materials.status_code == 201, materials.text
    response = await alice.post(
        "/v1/feedback-responses",
        {
            "form": "participant_satisfaction@1.0",
            "service_record_id": record["id"],
            "answers": {"felt_safe": True},
        },
    )
    assert response.status_code == 201, response.text
    series = await alice.post(
        "/v1/group-series",
        {
            "name": "Caregivers",
            "activity_code": "caregiver_session",
            "site_id": site_ids[0],
            "planned_sessions": 4,
            "starts_on": "2026-03-01",
        },
    )
    assert series.status_code == 201, series.text
    anonymous = await alice.post(
        "/v1/anonymous-services",
        {
            "activity_code": "awareness_session",
            "service_date": "2026-03-01",
            "counts": [{"count": 3}],
        },
    )
    await alice.patch(
        f"/v1/beneficiaries/{person['id']}",
        {"nationality": "SYR"},
        headers={"If-Match": '"1"'},
    )
    stale = {
        k: v
        for k, v in person.items()
        if k
        in {
            "full_name",
            "phone",
            "address",
            "sex",
            "date_of_birth",
            "marital_status",
            "disability",
            "displacement_status",
            "nationality",
            "site_id",
            "registration_date",
            "registration_channel",
        }
    }
    stale["nationality"] = "TUR"
    sync = await alice.post(
        "/v1/sync",
        {"beneficiaries": [{"id": person["id"], "base_version": 1, "data": stale}]},
    )
    conflict_id = sync.json()["results"][0]["conflict_id"]
    assert conflict_id
    case = await alice.post(
        "/v1/cases",
        {
            "beneficiary_id": person["id"],
            "presenting_problems": ["grief"],
            "risk_level": "low",
            "iasc_layer_needed": "focused_non_specialized",
            "case_worker": "alice",
            "supervisor": "sam",
            "intake_notes": "Lost her brother in 2017.",
            "opened_on": "2026-03-01",
        },
    )
    assert case.status_code == 201, case.text
    alert = await alice.post(f"/v1/cases/{case.json()['id']}/risk-flags", {})
    assert alert.status_code == 201, alert.text
    cid = case.json()["id"]
    assert (
        await alice.client.put(
            f"/v1/cases/{cid}/plan",
            json={"goals": ["sleep better"]},
            headers=alice.headers(),
        )
    ).status_code == 200
    assert (
        await alice.post(f"/v1/cases/{cid}/follow-ups", {"on": "2026-03-02"})
    ).status_code == 201
    assert (
        await alice.post(f"/v1/cases/{cid}/safety-plans", {"warning_signs": ["a"]})
    ).status_code == 201
    await give_consent(
        alice,
        person["id"],
        {"purpose": "referral", "granted": True, "form_version": "1"},
    )
    referral = await alice.post(
        "/v1/referrals",
        {
            "beneficiary_id": person["id"],
            "case_id": cid,
            "kind": "external",
            "area": "legal",
            "receiving_party": "Legal aid NGO",
            "sent_on": "2026-03-02",
        },
    )
    assert referral.status_code == 201, referral.text
    enrolment = await alice.post(
        "/v1/enrolments",
        {
            "beneficiary_id": person["id"],
            "intervention": "pm_plus",
            "enrolled_on": "2026-03-01",
        },
    )
    assert enrolment.status_code == 201, enrolment.text
    elsewhere = issue(alice.org, Role.case_worker, sites=[site_ids[1]])
    grant = await elsewhere.post(
        "/v1/break-glass",
        {"beneficiary_id": person["id"], "reason": "hostile sweep", "minutes": 5},
    )
    assert grant.status_code == 201, grant.text
    retention = await issue(alice.org, Role.programme_manager).post(
        "/v1/retention/runs", {"dry_run": True}
    )
    assert retention.status_code == 201, retention.text
    agreement = await issue(alice.org, Role.programme_manager).post(
        "/v1/sharing-agreements",
        {
            "partner": "Partner",
            "purpose": "Cash assistance follow-up",
            "fields": ["pseudonym", "full_name"],
            "valid_from": "2026-01-01",
            "expires_on": "2099-12-31",
        },
    )
    assert agreement.status_code == 201, agreement.text
    partners = await partner_records(issue(alice.org, Role.programme_manager))
    mapping, started = await start_an_import(issue(alice.org, Role.programme_manager))
    structures = await _structures(issue(alice.org, Role.programme_manager))
    return {
        **partners,
        **structures,
        "beneficiary_id": person["id"],
        "duplicate_id": twin["id"],
        "record_id": record["id"],
        "group_id": group.json()["id"],
        "series_id": series.json()["id"],
        "distribution_id": materials.json()["id"],
        "response_id": response.json()["id"],
        "conflict_id": conflict_id,
        "anonymous_id": anonymous.json()["id"],
        "case_id": case.json()["id"],
        "alert_id": alert.json()["id"],
        "referral_id": referral.json()["id"],
        "enrolment_id": enrolment.json()["id"],
        "grant_id": grant.json()["id"],
        "run_id": retention.json()["id"],
        "agreement_id": agreement.json()["id"],
        "mapping_id": mapping,
        "import_id": started,
        "organisation_id": alice.org.id,
        "site_id": site_ids[0],
    }


async def partner_records(manager: Caller) -> dict[str, str]:
    """The partner arc's records of the first organisation: its own profile,
    a prospective partner, a mapping, an assessment, a round with an
    application, a needs assessment."""

    async def made(path: str, body: Any) -> Any:
        r = await manager.post(path, body)
        assert r.status_code == 201, r.text
        return r.json()

    await made("/v1/partner-profiles", {"organisation_id": manager.org.id})
    partner = (
        await made("/v1/partner-profiles", {"name": "Sweep CSO", "type": "cso"})
    )["organisation_id"]
    exercise = await made(
        "/v1/mapping-exercises",
        {
            "title": "Sweep",
            "conducted_from": "2026-01-01",
            "conducted_to": "2026-01-02",
            "method": "desk_review",
            "findings": [{"organisation_id": partner, "relevance": "high"}],
        },
    )
    assessment = await made(
        "/v1/capacity-assessments",
        {
            "assessed_organisation_id": partner,
            "tool": "oca_mhpss@1.0",
            "timepoint": "baseline",
            "assessed_on": "2026-01-03",
            "items": {
                i: {"level": 2} for i in capacity_tools()["oca_mhpss@1.0"].domain_of()
            },
        },
    )
    selection = await made(
        "/v1/selection-rounds",
        {
            "title": "Sweep round",
            "opened_on": "2026-01-04",
            "criteria": [
                {"code": "reach", "label": "Reach", "weight": 1, "max_score": 5}
            ],
        },
    )
    await made(
        f"/v1/selection-rounds/{selection['id']}/applications",
        {"candidate_organisation_id": partner, "channel": "nomination"},
    )
    needs = await made(
        "/v1/needs-assessments",
        {
            "conducted_on": "2026-01-05",
            "method": "focus_groups",
            "population": "idp",
            "sample_size": 12,
            "sample_unit": "groups",
            "findings": [{"topic": "livelihoods", "severity": "high"}],
        },
    )
    return {
        "partner_id": partner,
        "exercise_id": exercise["id"],
        "assessment_id": assessment["id"],
        "round_id": selection["id"],
        "needs_assessment_id": needs["id"],
    }


async def start_an_import(manager: Caller) -> tuple[str, str]:
    """An import mapping and an import (a dry run) of the organisation."""
    mapping = await manager.post(
        "/v1/import-mappings",
        {
            "name": "Sweep form",
            "spec": {
                "person": {
                    "fields": {"full_name": "name", "sex": "sex"},
                    "constants": {"registration_channel": "outreach"},
                }
            },
        },
    )
    assert mapping.status_code == 201, mapping.text
    started = await manager.post(
        "/v1/imports",
        {
            "mapping_id": mapping.json()["id"],
            "dry_run": True,
            "file": {"name": "a.csv", "format": "csv", "content_base64": "X3V1aWQK"},
        },
    )
    assert started.status_code == 202, started.text
    return mapping.json()["id"], started.json()["id"]


async def _structures(manager: Caller) -> dict[str, str]:
    """A team, a project and a partnership of the manager's organisation."""
    team = await manager.post(
        "/v1/teams", {"name": "Duhok team", "kind": "governorate"}
    )
    assert team.status_code == 201, team.text
    organisations = (await manager.get("/v1/organisations")).json()["items"]
    partner = next(
        o for o in organisations if o["lead_organisation_id"] == manager.org.id
    )
    project = await manager.post(
        "/v1/projects",
        {
            "name": "Resilience",
            "donor": "A ministry",
            "start": "2026-01-01",
            "end": "2026-12-31",
            "partner_organisation_ids": [partner["id"]],
            "targets": [{"indicator": "people_reached", "target": 100}],
        },
    )
    assert project.status_code == 201, project.text
    partnership = await manager.post(
        "/v1/partnerships",
        {
            "partner_organisation_id": partner["id"],
            "project_id": project.json()["id"],
            "start": "2026-01-01",
            "end": "2026-06-30",
        },
    )
    assert partnership.status_code == 201, partnership.text
    return {
        "team_id": team.json()["id"],
        "project_id": project.json()["id"],
        "partnership_id": partnership.json()["id"],
    }


# Organisation-level objects a site-scoped token of the same organisation may
# reach (they sit at no site): sharing agreements and their exports, the
# organisation's import mappings, teams, projects and partnerships.
ORGANISATION_LEVEL = {
    "agreement_id",
    "mapping_id",
    "team_id",
    "project_id",
    "partnership_id",
}
# Query parameters that name a record, filled from the sweep's ids.
QUERY_IDS = {
    "beneficiary_id": "beneficiary_id",
    "entity_id": "beneficiary_id",
    "case_id": "case_id",
    "site_id": "site_id",
    "assessed_organisation_id": "partner_id",
    "group_activity_id": "group_id",
    "service_record_id": "record_id",
}
# Creates that name one of the first organisation's records in their body.
BODY_IDS: dict[str, Any] = {
    "/v1/service-records": lambda ids: {
        "beneficiary_id": ids["beneficiary_id"],
        "activity_code": "individual_counselling",
        "service_date": "2026-03-02",
    },
    "/v1/group-activities": lambda ids: {
        "activity_code": "caregiver_session",
        "activity_date": "2026-03-02",
        "attendee_ids": [ids["beneficiary_id"]],
        "group_series_id": ids["series_id"],
    },
    "/v1/material-distributions": lambda ids: {
        "group_activity_id": ids["group_id"],
        "item_code": "school_bag",
        "quantity": 1,
    },
    "/v1/feedback-responses": lambda ids: {
        "form": "participant_satisfaction@1.0",
        "group_activity_id": ids["group_id"],
        "answers": {"overall_satisfied": 1},
    },
    "/v1/cases": lambda ids: {
        "beneficiary_id": ids["beneficiary_id"],
        "presenting_problems": ["grief"],
        "risk_level": "low",
        "iasc_layer_needed": "focused_non_specialized",
        "case_worker": "intruder",
        "supervisor": "intruder",
        "opened_on": "2026-03-02",
    },
    "/v1/referrals": lambda ids: {
        "beneficiary_id": ids["beneficiary_id"],
        "case_id": ids["case_id"],
        "kind": "external",
        "area": "legal",
        "receiving_party": "Hostile",
        "sent_on": "2026-03-02",
    },
    "/v1/enrolments": lambda ids: {
        "beneficiary_id": ids["beneficiary_id"],
        "intervention": "pm_plus",
        "enrolled_on": "2026-03-02",
    },
    "/v1/partner-profiles": lambda ids: {
        "organisation_id": ids["partner_id"],
        "legal_status": "other",
    },
    "/v1/capacity-assessments": lambda ids: {
        "assessed_organisation_id": ids["partner_id"],
        "tool": "oca_mhpss@1.0",
        "timepoint": "follow_up",
        "assessed_on": "2026-03-02",
        "items": {
            i: {"level": 1} for i in capacity_tools()["oca_mhpss@1.0"].domain_of()
        },
    },
    "/v1/partnerships": lambda ids: {
        "partner_organisation_id": ids["organisation_id"],
        "project_id": ids["project_id"],
        "start": "2026-01-01",
        "end": "2026-01-31",
    },
    "/v1/anonymous-services": lambda ids: {
        "activity_code": "awareness_session",
        "service_date": "2026-03-02",
        "counts": [{"count": 3}],
        "team_id": ids["team_id"],
        "project_id": ids["project_id"],
    },
    "/v1/break-glass": lambda ids: {
        "beneficiary_id": ids["beneficiary_id"],
        "reason": "hostile sweep",
        "minutes": 5,
    },
    "/v1/imports": lambda ids: {
        "mapping_id": ids["mapping_id"],
        "dry_run": False,
        "file": {"name": "a.csv", "format": "csv", "content_base64": "X3V1aWQK"},
    },
}
WRITTEN = (
    "service_record",
    "group_activity",
    "group_series",
    "material_distribution",
    "feedback_response",
    "anonymous_service",
    "case_file",
    "referral",
    "enrolment",
    "import_mapping",
    "import_job",
    "team",
    "project",
    "partnership",
)


async def walk(
    app: FastAPI,
    intruder: Caller,
    ids: dict[str, str],
    *,
    reachable: set[str] = frozenset(),  # type: ignore[assignment]
    skip_bodies: set[str] = frozenset(),  # type: ignore[assignment]
) -> int:
    """Every route with the first organisation's ids in the path, in the
    query and in the body: each is a 403 or 404 (a 422 for a body naming
    an unseen record), and no answer holds one of those ids. ``reachable``
    names ids the intruder may legitimately reach."""
    # public: locations, organisations (prospective ones too)
    directory = {"site_id", "organisation_id", "partner_id"}
    hidden = [v for k, v in ids.items() if k not in reachable | directory]
    checked = 0
    for template, operations in app.openapi()["paths"].items():
        skipped = template in SHARED_DIRECTORY or template in OWN_SETTINGS
        if not template.startswith("/v1") or skipped:
            continue
        params = re.findall(r"{(\w+)}", template)
        for method, operation in operations.items():
            method = method.upper()
            if params:
                keys = [
                    "anonymous_id" if "anonymous" in template else n for n in params
                ]
                path = template
                for name, key in zip(params, keys, strict=True):
                    path = path.replace(f"{{{name}}}", ids[key])
                body = BODIES.get((method, template))
                if method in {"POST", "PATCH", "PUT"}:
                    assert body is not None, f"add a body for {method} {template}"
                response = await intruder.client.request(
                    method,
                    path,
                    json=body,
                    headers=intruder.headers({"If-Match": '"1"'}),
                )
                allowed = {200, 201} if set(keys) <= reachable else set()
                assert response.status_code in {403, 404} | allowed, (
                    method,
                    path,
                    response.text,
                )
            elif method == "GET":
                query = {
                    p["name"]: ids[QUERY_IDS[p["name"]]]
                    for p in operation.get("parameters", [])
                    if p["in"] == "query" and p["name"] in QUERY_IDS
                }
                for params_sent in ({}, query) if query else ({},):
                    response = await intruder.get(template, params=params_sent)
                    assert response.status_code in {200, 403}, (
                        template,
                        params_sent,
                        response.text,
                    )
            elif method == "POST" and template in BODY_IDS:
                if template in skip_bodies:
                    continue
                response = await intruder.post(template, BODY_IDS[template](ids))
                assert response.status_code in {403, 404, 422}, (
                    template,
                    response.text,
                )
            else:
                continue
            if response.is_success:  # a problem echoes only what was sent
                leaked = [v for v in hidden if v in response.text]
                assert not leaked, (method, template, leaked)
            checked += 1
    return checked


async def written(engine: AsyncEngine) -> dict[str, int]:
    return {table: await count_rows(engine, table) for table in WRITTEN}


async def audited_by_intruder(engine: AsyncEngine, ids: list[str]) -> list[str]:
    """Which of ``ids`` the intruder's requests wrote into an audit row (a
    foreign id there lands in its owner's "who accessed your data")."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT entity_id FROM audit_entry WHERE subject = 'intruder'")
        )
        return [str(r[0]) for r in rows if str(r[0]) in ids]


EVERY_READER = (
    Role.case_worker,
    Role.supervisor,
    Role.programme_manager,
    Role.auditor,
    Role.me_officer,
)


async def snapshot(
    alice: Caller, engine: AsyncEngine, ids: dict[str, str]
) -> tuple[dict[str, int], Any, Any]:
    """What an intruder must not change: the rows written, the person's
    version and consents."""
    person = (await alice.get(f"/v1/beneficiaries/{ids['beneficiary_id']}")).json()
    return await written(engine), person["version"], person["consents"]


async def test_every_route_hides_another_organisations_data(
    beneficiary_app: FastAPI,
    alice: Caller,
    issue: Any,
    bob: Caller,
    site_ids: list[str],
    beneficiary_engine: AsyncEngine,
) -> None:
    ids = await alices_world(alice, issue, site_ids)
    before = await snapshot(alice, beneficiary_engine, ids)
    intruder = issue(
        bob.org,
        *EVERY_READER,
        subject="intruder",
    )
    assert await walk(beneficiary_app, intruder, ids) >= 60
    assert await audited_by_intruder(beneficiary_engine, list(ids.values())) == []
    assert await snapshot(alice, beneficiary_engine, ids) == before  # nothing written


async def test_every_route_hides_other_sites_data(
    beneficiary_app: FastAPI,
    alice: Caller,
    issue: Any,
    site_ids: list[str],
    beneficiary_engine: AsyncEngine,
) -> None:
    """The same walk with a token of the same organisation limited to
    another site: a record at a site outside the token's is as good as
    absent (break-the-glass, the designed way in, is left out)."""
    ids = await alices_world(alice, issue, site_ids)
    before = await snapshot(alice, beneficiary_engine, ids)
    intruder = issue(
        alice.org,
        *EVERY_READER,
        subject="intruder",
        sites=[site_ids[1]],
    )
    checked = await walk(
        beneficiary_app,
        intruder,
        ids,
        reachable=ORGANISATION_LEVEL,
        skip_bodies={"/v1/break-glass", "/v1/imports"},  # the designed ways in
    )
    assert checked >= 60
    own = ORGANISATION_LEVEL | {"organisation_id", "site_id"}
    at_other_sites = [v for k, v in ids.items() if k not in own]
    assert await audited_by_intruder(beneficiary_engine, at_other_sites) == []
    assert await snapshot(alice, beneficiary_engine, ids) == before  # nothing written


async def test_every_route_hides_other_teams_data(
    beneficiary_app: FastAPI,
    alice: Caller,
    issue: Any,
    site_ids: list[str],
    beneficiary_engine: AsyncEngine,
) -> None:
    """The same walk with a token of the same organisation limited to
    another team: records its team did not make are as good as absent;
    the organisation's projects and partnerships it may read, not change."""
    ids = await alices_world(alice, issue, site_ids)
    manager = issue(alice.org, Role.programme_manager)
    other = await manager.post("/v1/teams", {"name": "Mobile 1", "kind": "mobile"})
    assert other.status_code == 201, other.text
    before = await snapshot(alice, beneficiary_engine, ids)
    intruder = issue(
        alice.org, *EVERY_READER, subject="intruder", team=other.json()["id"]
    )
    checked = await walk(
        beneficiary_app,
        intruder,
        ids,
        reachable=ORGANISATION_LEVEL - {"team_id"},
        skip_bodies={"/v1/break-glass"},
    )
    assert checked >= 60
    own = (ORGANISATION_LEVEL - {"team_id"}) | {"organisation_id"}
    others = [v for k, v in ids.items() if k not in own | {"site_id"}]
    leaked = await audited_by_intruder(beneficiary_engine, others)
    assert leaked == [], [k for k, v in ids.items() if v in leaked]
    assert await snapshot(alice, beneficiary_engine, ids) == before  # nothing written


# What any valid token may read: the shared directory and the vocabularies.
DIRECTORY_READS = {
    "/v1/organisations",
    "/v1/organisations/{organisation_id}",
    "/v1/locations",
    "/v1/locations/{location_id}",
    "/v1/taxonomy/activities",
    "/v1/taxonomy/materials",
    "/v1/feedback-forms",
    "/v1/instruments",
    "/v1/interventions",
}


async def test_every_route_refuses_a_role_without_the_right(
    beneficiary_app: FastAPI, alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    """Organisation-wide tokens of the same organisation whose role gives no
    right here (a trainer, the platform operator) get 403 on every route but
    the directory; an auditor reads but never writes. The first
    organisation's ids are in the path, the query and the body."""
    ids = await alices_world(alice, issue, site_ids)
    callers = {
        str(role): issue(alice.org, role).headers()
        for role in (Role.trainer, Role.platform_admin, Role.auditor)
    }

    def call(route: Route) -> Call:
        named = dict(ids)
        if "anonymous" in route.template:
            named["record_id"] = ids["anonymous_id"]
        query = {p: ids[key] for p, key in QUERY_IDS.items() if p in route.query}
        body = BODIES.get((route.method, route.template), {})
        if route.method == "POST" and route.template in BODY_IDS:
            body = BODY_IDS[route.template](ids)
        return Call(route.path(named, "closed_case"), query, body)

    def exempt(route: Route, role: str) -> bool:
        reads = route.method == "GET"
        return (
            (reads and route.template in DIRECTORY_READS)
            or (reads and role == Role.auditor)
            or (route.method, route.template, role)
            in {
                ("POST", "/v1/organisations", Role.platform_admin),
                # the place tree is every organisation's: the operator loads it
                ("POST", "/v1/locations/gazetteer", Role.platform_admin),
            }
        )

    swept = routes(beneficiary_app)
    assert (
        await assert_refused(alice.client, swept, callers, call, exempt=exempt) >= 150
    )


async def test_guessing_ids_reveals_nothing(alice: Caller, bob: Caller) -> None:
    mine = await make_beneficiary(alice)
    unknown = await bob.get(f"/v1/beneficiaries/{uuid.uuid4()}")
    foreign = await bob.get(f"/v1/beneficiaries/{mine['id']}")
    assert unknown.status_code == foreign.status_code == 404
    assert json.loads(unknown.text)["detail"] == json.loads(foreign.text)["detail"]


async def test_site_scope(alice: Caller, issue: Any, site_ids: list[str]) -> None:
    here, there = site_ids[0], site_ids[1]
    at_there = await make_beneficiary(alice, site_id=there)
    local = issue(alice.org, Role.case_worker, sites=[here])
    assert (await local.get(f"/v1/beneficiaries/{at_there['id']}")).status_code == 404
    listed = (await local.get("/v1/beneficiaries")).json()["items"]
    assert at_there["id"] not in [b["id"] for b in listed]
    r = await local.post(
        "/v1/beneficiaries",
        {**(await _body()), "site_id": there},
    )
    assert r.status_code == 403
    mine = await make_beneficiary(local, site_id=here)
    assert (await local.get(f"/v1/beneficiaries/{mine['id']}")).status_code == 200


async def _body() -> dict[str, Any]:
    from tests.beneficiary.api import beneficiary_body

    return beneficiary_body()


async def test_roles_are_enforced(issue: Any, orgs: dict[str, Any]) -> None:
    me = issue(orgs["a"], Role.me_officer)
    assert (await me.get("/v1/beneficiaries")).status_code == 403
    worker = issue(orgs["a"], Role.case_worker)
    r = await worker.post("/v1/organisations", {"name": "Rogue", "type": "cso"})
    assert r.status_code == 403
    r = await worker.post(
        "/v1/locations", {"name": "Test site", "level": "governorate"}
    )
    assert r.status_code == 403


async def test_machine_accounts_read_the_directory_only(
    issue: Any, orgs: dict[str, Any]
) -> None:
    """Reporting refreshes its location and organisation dimensions with a
    machine token; that token reads nothing else and writes nothing."""
    machine = issue(orgs["a"], Role.service, subject="reporting-service")
    locations = await machine.get("/v1/locations")
    assert locations.status_code == 200
    assert locations.json()["items"]
    assert {"id", "name", "level", "site_type", "pcode", "parent_id"} <= set(
        locations.json()["items"][0]
    )
    organisations = await machine.get("/v1/organisations", params={"limit": 500})
    assert organisations.status_code == 200
    listed = organisations.json()["items"]
    partner = next(o for o in listed if o["id"] == orgs["partner"].id)
    assert (partner["type"], partner["lead_organisation_id"]) == (
        "cso",
        orgs["a"].id,
    )
    assert {o["id"] for o in listed} >= {
        orgs["a"].id,
        orgs["b"].id,
    }
    assert (await machine.get("/v1/beneficiaries")).status_code == 403
    assert (await machine.get("/v1/service-records")).status_code == 403
    r = await machine.post("/v1/organisations", {"name": "Rogue", "type": "cso"})
    assert r.status_code == 403
    r = await machine.post(
        "/v1/locations", {"name": "Test site", "level": "governorate"}
    )
    assert r.status_code == 403


async def test_a_client_id_taken_elsewhere_answers_like_a_free_one(
    alice: Caller, bob: Caller
) -> None:
    theirs = await make_beneficiary(alice)
    mine = await bob.post("/v1/beneficiaries", beneficiary_body(id=theirs["id"]))
    free = await bob.post("/v1/beneficiaries", beneficiary_body(id=str(uuid.uuid4())))
    assert mine.status_code == free.status_code == 201
