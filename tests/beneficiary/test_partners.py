"""The partner arc in the beneficiary service: prospective organisations,
profiles (contact encrypted), mapping, capacity assessments, a selection
round's deterministic ranking and reasons, needs assessments; and who may
do each."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.partners.models import SelectionApplication
from services.beneficiary.partners.selection import rank
from shared.auth import Role
from shared.taxonomy.capacity import capacity_tools
from tests.callers import Caller, Org

TOOL = "oca_mhpss@1.0"


def levels(level: int, **overrides: int) -> dict[str, Any]:
    items = capacity_tools()[TOOL].domain_of()
    return {i: {"level": overrides.get(i, level)} for i in items}


async def ok(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def prospective(manager: Caller, name: str, **extra: Any) -> dict[str, Any]:
    return await ok(  # type: ignore[no-any-return]
        await manager.post(
            "/v1/partner-profiles",
            {
                "organisation_id": str(uuid.uuid4()),
                "name": name,
                "type": "cso",
                **extra,
            },
        )
    )


async def test_a_lead_manager_registers_a_prospective_organisation(
    issue: Any, orgs: dict[str, Org], beneficiary_engine: AsyncEngine, bob: Caller
) -> None:
    manager = issue(orgs["a"], Role.programme_manager)
    profile = await prospective(
        manager,
        "Hope CSO",
        legal_status="registered_ngo",
        languages=["ar", "ku"],
        staff=[{"role": "psychologist", "staff": 2, "volunteers": 5}],
        contact={"name": "Layla Hassan", "phone": "+9647700000000"},
        activity_codes=["pfa", "group_counselling"],
    )
    assert profile["programme_status"] == "prospective"
    assert profile["steward_organisation_id"] == orgs["a"].id
    assert profile["contact"]["name"] == "Layla Hassan"
    directory = await ok(
        await manager.get(f"/v1/organisations/{profile['organisation_id']}"), 200
    )
    assert directory["name"] == "Hope CSO"
    async with beneficiary_engine.connect() as conn:
        stored = (
            await conn.execute(text("SELECT contact_enc FROM organisation_profile"))
        ).scalar_one()
    assert "Layla" not in stored
    other = issue(orgs["b"], Role.programme_manager)
    r = await other.get(f"/v1/partner-profiles/{profile['organisation_id']}")
    assert r.status_code == 404
    worker = issue(orgs["a"], Role.case_worker)
    r = await worker.post("/v1/partner-profiles", {"name": "X", "type": "cso"})
    assert r.status_code == 403
    r = await manager.patch(
        f"/v1/partner-profiles/{profile['organisation_id']}", {"languages": ["en"]}
    )
    assert r.status_code == 428
    r = await manager.patch(
        f"/v1/partner-profiles/{profile['organisation_id']}",
        {"languages": ["en"]},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["languages"] == ["en"]
    assert r.headers["ETag"] == '"2"'
    r = await manager.patch(
        f"/v1/partner-profiles/{profile['organisation_id']}",
        {"languages": ["ar"]},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 409


def test_the_ranking_is_deterministic_and_breaks_ties_by_weight() -> None:
    criteria = [
        {"code": "experience", "weight": 3, "max_score": 5},
        {"code": "reach", "weight": 1, "max_score": 5},
    ]
    a, b, c = (
        SelectionApplication(
            id=uuid.UUID(int=i),
            organisation_id=uuid.UUID(int=99),
            round_id=uuid.UUID(int=98),
            candidate_organisation_id=uuid.UUID(int=10 - i),
            channel="application",
        )
        for i in (1, 2, 3)
    )
    scores: dict[uuid.UUID, list[dict[str, float]]] = {
        a.id: [{"experience": 4, "reach": 2}],  # 70
        b.id: [{"experience": 3, "reach": 5}],  # 70: less experience
        c.id: [{"experience": 4, "reach": 2}],  # 70: same as a, lower org id
    }
    order = [r.application.id for r in rank(criteria, [a, b, c], scores)]
    assert order == [c.id, a.id, b.id]
    again = [r.application.id for r in rank(criteria, [b, c, a], scores)]
    assert again == order


def test_a_domain_score_is_the_mean_of_its_items() -> None:
    tool = capacity_tools()[TOOL]
    scored = dict.fromkeys(tool.domain_of(), 1) | {"gov1": 4, "gov2": 3}
    assert tool.domain_scores(scored)["governance"] == round(8 / 3, 2)
    assert tool.score_errors({"gov1": 5}) != []


async def test_bad_partner_input_is_a_problem_and_writes_nothing(
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
    beneficiary_engine: AsyncEngine,
) -> None:
    manager = issue(orgs["a"], Role.programme_manager)
    foreign = issue(orgs["b"], Role.programme_manager)
    theirs = await prospective(foreign, "Their CSO")
    mine = await prospective(manager, "My CSO")
    r = await manager.post(
        "/v1/capacity-assessments",
        {
            "assessed_organisation_id": theirs["organisation_id"],
            "tool": TOOL,
            "timepoint": "baseline",
            "assessed_on": "2026-02-01",
            "items": levels(2),
        },
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    r = await manager.post(
        "/v1/capacity-assessments",
        {
            "assessed_organisation_id": mine["organisation_id"],
            "tool": "oca_mhpss@9.9",
            "timepoint": "baseline",
            "assessed_on": "2026-02-01",
            "items": levels(2),
        },
    )
    assert r.status_code == 422
    r = await manager.post(
        "/v1/mapping-exercises",
        {
            "title": "M",
            "conducted_from": "2026-01-02",
            "conducted_to": "2026-01-01",
            "method": "survey",
            "findings": [{"organisation_id": str(uuid.uuid4()), "relevance": "low"}],
        },
    )
    assert r.status_code == 422
    round_ = await ok(
        await manager.post(
            "/v1/selection-rounds",
            {
                "title": "R",
                "opened_on": "2026-01-01",
                "criteria": [
                    {"code": "reach", "label": "Reach", "weight": 1, "max_score": 5}
                ],
            },
        )
    )
    path = f"/v1/selection-rounds/{round_['id']}"
    r = await manager.post(
        f"{path}/applications",
        {
            "candidate_organisation_id": theirs["organisation_id"],
            "channel": "nomination",
        },
    )
    assert r.status_code == 422  # not this lead's concern: as if unknown
    application = await ok(
        await manager.post(
            f"{path}/applications",
            {
                "candidate_organisation_id": mine["organisation_id"],
                "channel": "application",
            },
        )
    )
    r = await manager.post(
        f"{path}/scores", {"application_id": application["id"], "scores": {"reach": 9}}
    )
    assert r.status_code == 422
    r = await manager.post(f"{path}/decision", {"decided_on": "2026-02-01"})
    assert r.status_code == 428
    limited = issue(orgs["a"], Role.programme_manager, sites=[site_ids[0]])
    assert (await limited.get(path)).status_code == 403
    assert (await foreign.get(path)).status_code == 404
    for table in ("capacity_assessment", "mapping_exercise", "selection_score"):
        async with beneficiary_engine.connect() as conn:
            rows = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).one()
        assert rows[0] == 0, table
    decided = await ok(
        await manager.post(
            f"{path}/decision",
            {"decided_on": "2026-02-01", "select_top": 1},
            headers={"If-Match": '"1"'},
        ),
        200,
    )
    assert decided["version"] == 2
    [only] = (await manager.get(f"{path}/applications")).json()["items"]
    assert (only["outcome"], only["reason"]) == ("not_selected", "not_scored")


async def test_only_the_lead_decides_a_partners_programme_status(
    issue: Any, orgs: dict[str, Org]
) -> None:
    """The partner edits its own description, never the lead's decision
    about it, neither by PATCH nor by deciding a selection round of its own."""
    lead = issue(orgs["a"], Role.programme_manager)
    partner = issue(orgs["partner"], Role.programme_manager)
    partner_id = orgs["partner"].id
    made = await ok(
        await lead.post("/v1/partner-profiles", {"organisation_id": partner_id})
    )
    assert made["programme_status"] == "partner"
    path = f"/v1/partner-profiles/{partner_id}"

    r = await partner.patch(
        path, {"programme_status": "selected"}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    r = await partner.patch(
        path, {"languages": ["ar", "en"]}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text  # its own description, yes

    call = await ok(
        await partner.post(
            "/v1/selection-rounds",
            {
                "title": "Self-selection",
                "opened_on": "2026-01-04",
                "criteria": [
                    {"code": "reach", "label": "Reach", "weight": 1, "max_score": 5}
                ],
            },
        )
    )
    applied = await ok(
        await partner.post(
            f"/v1/selection-rounds/{call['id']}/applications",
            {"candidate_organisation_id": partner_id, "channel": "nomination"},
        )
    )
    await ok(
        await partner.post(
            f"/v1/selection-rounds/{call['id']}/scores",
            {"application_id": applied["id"], "scores": {"reach": 5}},
        )
    )
    decided = await partner.post(
        f"/v1/selection-rounds/{call['id']}/decision",
        {"decided_on": "2026-01-05", "select_top": 1},
        headers={"If-Match": '"1"'},
    )
    assert decided.status_code == 200, decided.text  # its own round, its own call
    seen = await ok(await lead.get(path), 200)
    assert seen["programme_status"] == "partner"
    assert seen["history"] == made["history"]


async def test_a_requested_lead_gets_no_partner_rights_before_approval(
    issue: Any, orgs: dict[str, Org]
) -> None:
    platform = issue(Org(str(uuid.UUID(int=0)), "platform"), Role.platform_admin)
    asking = await ok(
        await platform.post(
            "/v1/organisations",
            {"name": "Asks A", "type": "cso", "lead_organisation_id": orgs["a"].id},
        )
    )
    lead = issue(orgs["a"], Role.programme_manager)
    r = await lead.post("/v1/partner-profiles", {"organisation_id": asking["id"]})
    assert r.status_code in (403, 404, 422), r.text
    r = await lead.post(
        "/v1/capacity-assessments",
        {
            "assessed_organisation_id": asking["id"],
            "tool": TOOL,
            "timepoint": "baseline",
            "assessed_on": "2026-01-03",
            "items": levels(2),
        },
    )
    assert r.status_code in (403, 404, 422), r.text


async def test_an_assessment_names_only_a_project_its_assessor_takes_part_in(
    issue: Any, orgs: dict[str, Org], beneficiary_engine: AsyncEngine
) -> None:
    """Another organisation's project answers like an unknown one; a date
    outside the project's period is refused too; nothing is written."""
    manager = issue(orgs["a"], Role.programme_manager)
    foreign = issue(orgs["b"], Role.programme_manager)
    project = {"donor": "A ministry", "start": "2026-01-01", "end": "2026-06-30"}
    ours = await ok(await manager.post("/v1/projects", {"name": "Ours", **project}))
    theirs = await ok(await foreign.post("/v1/projects", {"name": "Theirs", **project}))
    mine = await prospective(manager, "Assessed CSO")
    body = {
        "assessed_organisation_id": mine["organisation_id"],
        "tool": TOOL,
        "timepoint": "baseline",
        "assessed_on": "2026-02-01",
        "items": levels(2),
    }
    answers = []
    for project_id, on in [
        (theirs["id"], "2026-02-01"),
        (str(uuid.uuid4()), "2026-02-01"),
        (ours["id"], "2026-07-01"),
    ]:
        r = await manager.post(
            "/v1/capacity-assessments",
            {**body, "project_id": project_id, "assessed_on": on},
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        answers.append(r.json()["errors"][0]["type"])
    assert answers == ["unknown_project", "unknown_project", "period"]
    async with beneficiary_engine.connect() as conn:
        rows = await conn.execute(text("SELECT count(*) FROM capacity_assessment"))
        assert rows.one()[0] == 0
    made = await ok(
        await manager.post(
            "/v1/capacity-assessments", {**body, "project_id": ours["id"]}
        )
    )
    assert made["project_id"] == ours["id"]
