"""Reporting side of consent and access integrity: another organisation
cannot change this one's figures, an API key sees no more than its issuer,
exports never stay pending (found in the security review of issue 12)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.reporting.exports.jobs import run_export
from services.reporting.ingest.jobs import ingest_events
from shared.auth import Role
from shared.spreadsheet import unguard
from shared.taxonomy.competency import competency_tools
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller, Org
from tests.reporting.helpers import values
from tests.shared.spreadsheets import no_formula_either_way
from tests.training.api import token, trainee

TOOL = "helping_skills_core@1.0"


async def competent_trainee(
    training_client: httpx.AsyncClient, headers: dict[str, str], staff_id: str
) -> None:
    """A trainee with this staff code, assessed competent (level 3) in January."""
    r = await training_client.post(
        "/v1/trainees", json=trainee(staff_id=staff_id), headers=headers
    )
    assert r.status_code == 201, r.text
    r = await training_client.post(
        "/v1/competency-assessments",
        json={
            "trainee_id": r.json()["id"],
            "tool": TOOL,
            "mode": "live",
            "context": "supervision",
            "assessed_on": "2026-01-10",
            "ratings": {i.id: 3 for i in competency_tools()[TOOL].items},
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["overall_level"] == 3


async def test_another_organisations_trainee_never_qualifies_your_staff(
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    reporting_client: httpx.AsyncClient,
    training_client: httpx.AsyncClient,
    training_settings: Any,
    catch_up: Any,
) -> None:
    person = await make_beneficiary(alice)
    await record_service(alice, person["id"], staff_id="A-0042")
    other_org = token(training_settings, uuid.UUID(orgs["b"].id), Role.trainer)
    await competent_trainee(training_client, other_org, "A-0042")
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)
    total = (await values(reporting_client, reader, "services_by_qualified_staff"))[
        "total"
    ]
    assert (total["numerator"], total["denominator"]) == (0, 1)

    own_org = token(training_settings, uuid.UUID(orgs["a"].id), Role.trainer)
    await competent_trainee(training_client, own_org, "A-0042")
    await catch_up()
    total = (await values(reporting_client, reader, "services_by_qualified_staff"))[
        "total"
    ]
    assert (total["numerator"], total["denominator"]) == (1, 1)


async def test_a_lead_organisations_trainee_qualifies_its_partners_staff(
    issue: Any,
    orgs: dict[str, Org],
    reporting_client: httpx.AsyncClient,
    training_client: httpx.AsyncClient,
    training_settings: Any,
    catch_up: Any,
    reporting_app: FastAPI,
) -> None:
    """The lead trains its implementing partners' staff (audience cso/ngo);
    a partner's trainee never qualifies the lead's staff."""
    partner = issue(orgs["partner"], Role.case_worker)
    lead = issue(orgs["a"], Role.case_worker)
    for caller, code in ((partner, "P-7"), (lead, "L-7")):
        person = await make_beneficiary(caller)
        await record_service(caller, person["id"], staff_id=code)
    lead_training = token(training_settings, uuid.UUID(orgs["a"].id), Role.trainer)
    await competent_trainee(training_client, lead_training, "P-7")
    partner_training = token(
        training_settings, uuid.UUID(orgs["partner"].id), Role.trainer
    )
    await competent_trainee(training_client, partner_training, "L-7")
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)
    body = await values(
        reporting_client, reader, "services_by_qualified_staff", by="organisation"
    )
    cells = {c["dims"]["organisation"]: c for c in body["cells"]}
    qualified = {org: cells[orgs[org].id]["numerator"] for org in ("partner", "a")}
    assert qualified == {"partner": 1, "a": 0}


async def test_an_api_key_sees_no_more_than_its_issuers_sites(
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    for site, count in ((site_ids[0], 12), (site_ids[1], 7)):
        r = await alice.post(
            "/v1/anonymous-services",
            {
                "activity_code": "awareness_session",
                "service_date": "2026-02-10",
                "site_id": site,
                "counts": [{"sex": "female", "age_group": "adult", "count": count}],
            },
        )
        assert r.status_code == 201, r.text
    await catch_up()
    limited = issue(orgs["a"], Role.programme_manager, sites=site_ids[:1])
    everywhere = issue(orgs["a"], Role.programme_manager)
    issued = {}
    for name, manager in (("limited", limited), ("everywhere", everywhere)):
        r = await reporting_client.post(
            "/v1/api-keys", json={"name": name}, headers=manager.headers()
        )
        assert r.status_code == 201, r.text
        issued[name] = r.json()
    assert issued["limited"]["site_ids"] == site_ids[:1]
    assert issued["everywhere"]["site_ids"] is None

    async def total(key: str) -> Any:
        r = await reporting_client.get(
            "/v1/indicators/services_delivered/values",
            params={"start": "2026-01-01", "end": "2026-12-31"},
            headers={"X-API-Key": key},
        )
        assert r.status_code == 200, r.text
        return r.json()["total"]["value"]

    assert await total(issued["limited"]["key"]) == 12
    assert await total(issued["everywhere"]["key"]) == 19

    listed = await reporting_client.get("/v1/api-keys", headers=limited.headers())
    assert [k["name"] for k in listed.json()] == ["limited"]
    listed = await reporting_client.get("/v1/api-keys", headers=everywhere.headers())
    assert [k["name"] for k in listed.json()] == ["limited", "everywhere"]
    r = await reporting_client.delete(
        f"/v1/api-keys/{issued['everywhere']['id']}", headers=limited.headers()
    )
    assert r.status_code == 404, r.text
    assert await total(issued["everywhere"]["key"]) == 19
    elsewhere = issue(orgs["a"], Role.programme_manager, sites=site_ids[1:2])
    r = await reporting_client.delete(
        f"/v1/api-keys/{issued['limited']['id']}", headers=elsewhere.headers()
    )
    assert r.status_code == 404, r.text
    r = await reporting_client.delete(
        f"/v1/api-keys/{issued['limited']['id']}", headers=everywhere.headers()
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("export_format", ["csv", "dhis2", "adx"])
async def test_an_export_at_the_end_of_the_calendar_never_stays_pending(
    export_format: str,
    issue: Any,
    orgs: dict[str, Org],
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
) -> None:
    manager = issue(orgs["a"], Role.programme_manager)
    r = await reporting_client.post(
        "/v1/exports",
        json={
            "indicator": "services_delivered",
            "start": "9999-11-01",
            "end": "9999-12-31",
            "monthly": True,
            "format": export_format,
        },
        headers=manager.headers(),
    )
    assert r.status_code == 202, r.text
    await run_export({"runtime": reporting_app.state.runtime}, r.json()["id"])
    r = await reporting_client.get(
        f"/v1/exports/{r.json()['id']}", headers=manager.headers()
    )
    assert r.json()["status"] == "ready", r.text
    r = await reporting_client.get(
        "/v1/indicators/services_delivered/values",
        params={"start": "9999-12-01", "end": "9999-12-31", "by": "month"},
        headers=manager.headers(),
    )
    assert r.status_code == 200, r.text


async def test_a_csv_cell_never_opens_as_a_formula_with_either_separator(
    issue: Any,
    orgs: dict[str, Org],
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
) -> None:
    """A producer's code reaches CSV cells as it is (the beneficiary service
    checks activity codes; reporting takes what the feed says)."""
    organisation = uuid.UUID(orgs["a"].id)
    code = "Ali;=1+2;x"
    facts = {
        "service_record_id": str(uuid.uuid4()),
        "beneficiary_id": str(uuid.uuid4()),
        "organisation_id": str(organisation),
        "lead_organisation_id": str(organisation),
        "delivered_through": "direct",
        "activity_code": code,
        "iasc_layer": "focused_non_specialized",
        "service_date": "2026-02-01",
        "site_id": None,
        "modality": "in_person",
        "staff_id": None,
        "duration_minutes": 30,
        "group_activity_id": None,
        "age_at_service": 30,
        "voided": False,
        "version": 1,
    }
    event = {
        "id": str(uuid.uuid4()),
        "position": 1,
        "type": "service_record.recorded",
        "source": "beneficiary",
        "organisation_id": str(organisation),
        "entity_id": facts["service_record_id"],
        "occurred_at": "2026-02-01T10:00:00Z",
        "data": facts,
    }
    context = {"runtime": reporting_app.state.runtime}
    assert await ingest_events(context, "beneficiary", [event]) == 1
    reader = issue(orgs["a"], Role.me_officer)
    r = await reporting_client.get(
        "/v1/feeds/services_delivered",
        params={"by": "activity", "format": "csv"},
        headers=reader.headers(),
    )
    assert r.status_code == 200, r.text
    rows = no_formula_either_way(r.text)
    assert unguard(rows[1][rows[0].index("activity")]) == code
