"""Indicators follow the producers: corrections, voids, erasure, anonymous
counts, filters, age bands, scope and roles."""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth import Role
from tests.beneficiary.api import (
    make_beneficiary,
    record_service,
    withdraw_registration,
)
from tests.callers import Caller
from tests.reporting.helpers import awareness_session, by_value, values


async def test_void_correction_and_erasure_change_the_indicators(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    reader = issue(orgs["a"], Role.me_officer)
    one = await make_beneficiary(alice, sex="female")
    two = await make_beneficiary(alice, sex="male")
    first = await record_service(alice, one["id"], service_date="2026-02-01")
    await record_service(alice, two["id"], service_date="2026-02-02")
    await catch_up()
    people = await values(reporting_client, reader, "people_reached", by="sex")
    assert by_value(people) == {"female": 1, "male": 1}

    r = await alice.post(
        f"/v1/service-records/{first['id']}/void", {"reason": "entered twice"}
    )
    assert r.status_code == 200, r.text
    r = await alice.patch(
        f"/v1/beneficiaries/{two['id']}",
        {"sex": "female"},
        headers={"If-Match": f'"{two["version"]}"'},
    )
    assert r.status_code == 200, r.text
    await catch_up()
    people = await values(reporting_client, reader, "people_reached", by="sex")
    assert by_value(people) == {"female": 1}
    services = await values(reporting_client, reader, "services_delivered")
    assert services["total"]["value"] == 1

    r = await withdraw_registration(issue, orgs["a"], two["id"])
    assert r.status_code in (200, 201), r.text
    await catch_up()
    people = await values(reporting_client, reader, "people_reached")
    assert people["total"]["value"] == 0  # no longer counted as a person
    services = await values(reporting_client, reader, "services_delivered")
    assert services["total"]["value"] == 1  # the service still happened
    new = await values(reporting_client, reader, "new_beneficiaries")
    assert new["total"]["value"] == 1  # only the one who did not withdraw


async def test_anonymous_counts_layers_and_filters(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    reader = issue(orgs["a"], Role.me_officer)
    person = await make_beneficiary(alice, sex="male", date_of_birth="2012-05-01")
    await record_service(alice, person["id"], activity_code="psychiatric_consultation")
    await record_service(alice, person["id"], activity_code="individual_counselling")
    await awareness_session(alice)
    await catch_up()
    layers = await values(
        reporting_client, reader, "services_delivered", by="iasc_layer"
    )
    assert by_value(layers) == {
        "specialized": 1,
        "focused_non_specialized": 1,
        "basic_services": 19,
    }
    anonymous = await values(
        reporting_client, reader, "people_reached_anonymous", by="sex,age_group"
    )
    assert by_value(anonymous) == {("female", "18_plus"): 12, ("male", "0_17"): 7}
    people = await values(reporting_client, reader, "people_reached", by="iasc_layer")
    # one person on two layers: once per layer, once in the total
    assert by_value(people) == {"specialized": 1, "focused_non_specialized": 1}
    assert people["total"]["value"] == 1
    focused = await values(reporting_client, reader, "people_reached_focused_care")
    assert focused["total"]["value"] == 1
    filtered = await values(
        reporting_client, reader, "services_delivered", iasc_layer="specialized"
    )
    assert filtered["total"]["value"] == 1
    ages = await values(
        reporting_client, reader, "people_reached", end="2026-12-31", by="age_group"
    )
    assert by_value(ages) == {"0_17": 1}


async def test_other_organisations_see_nothing_and_partners_roll_up(
    alice: Caller,
    bob: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    partner = issue(orgs["partner"], Role.case_worker)
    person = await make_beneficiary(partner)
    await record_service(partner, person["id"])
    own = await make_beneficiary(alice)
    await record_service(alice, own["id"])
    await catch_up()
    lead = await values(
        reporting_client,
        issue(orgs["a"], Role.me_officer),
        "services_delivered",
        by="delivered_through",
    )
    assert by_value(lead) == {"direct": 1, "partner": 1}
    other = await values(
        reporting_client, issue(orgs["b"], Role.me_officer), "services_delivered"
    )
    assert other["total"]["value"] == 0
    assert other["cells"] == []
    partner_view = await values(
        reporting_client, issue(orgs["partner"], Role.me_officer), "services_delivered"
    )
    assert partner_view["total"]["value"] == 1


async def test_bad_queries_get_problems(
    issue: Any, orgs: Any, reporting_client: httpx.AsyncClient
) -> None:
    reader = issue(orgs["a"], Role.me_officer)
    cases = [
        (
            "/v1/indicators/nope/values",
            {"start": "2026-01-01", "end": "2026-02-01"},
            404,
        ),
        (
            "/v1/indicators/people_reached/values",
            {"start": "2026-03-01", "end": "2026-02-01"},
            422,
        ),
        (
            "/v1/indicators/people_reached/values",
            {"start": "2026-01-01", "end": "2026-02-01", "by": "audience"},
            422,
        ),
        (
            "/v1/indicators/people_reached/values",
            {
                "start": "2026-01-01",
                "end": "2026-02-01",
                "by": "sex,age_group,site,month",
            },
            422,
        ),
        (
            "/v1/indicators/people_reached/values",
            {"start": "yesterday", "end": "x"},
            422,
        ),
    ]
    for path, params, status in cases:
        r = await reporting_client.get(path, params=params, headers=reader.headers())
        assert r.status_code == status, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    outreach = issue(orgs["a"], Role.outreach_worker)
    r = await reporting_client.get(
        "/v1/indicators/people_reached/values",
        params={"start": "2026-01-01", "end": "2026-02-01"},
        headers=outreach.headers(),
    )
    assert r.status_code == 403
    r = await reporting_client.get("/v1/indicators")
    assert r.status_code == 401


async def test_small_cells_are_suppressed_for_roles_without_record_access(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    for _ in range(7):
        person = await make_beneficiary(alice, sex="female")
        await record_service(alice, person["id"])
    for _ in range(2):
        person = await make_beneficiary(alice, sex="male")
        await record_service(alice, person["id"])
    await catch_up()
    full = await values(
        reporting_client, issue(orgs["a"], Role.me_officer), "people_reached", by="sex"
    )
    assert by_value(full) == {"female": 7, "male": 2}
    assert full["suppression_threshold"] is None
    auditor = await values(
        reporting_client, issue(orgs["a"], Role.auditor), "people_reached", by="sex"
    )
    assert auditor["suppression_threshold"] == 5
    shown = {c["dims"]["sex"]: c for c in auditor["cells"]}
    assert shown["male"]["suppressed"]
    assert shown["male"]["value"] is None
    # the total minus the published cell would give the small one back
    assert shown["female"]["suppressed"] or auditor["total"]["suppressed"]
