"""Ages: on the service date, in bands chosen per query, read under the
names they were written with; filter values a dimension never takes are
refused."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from services.reporting.exports.jobs import run_export
from shared.auth import Role
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller
from tests.reporting.helpers import by_value, values

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}


async def test_a_person_turning_18_is_counted_by_the_age_on_each_service(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    reader = issue(orgs["a"], Role.me_officer)
    turning = await make_beneficiary(alice, date_of_birth="2008-06-15")
    for day in ("2026-03-01", "2026-05-20", "2026-09-01"):
        await record_service(alice, turning["id"], service_date=day)
    late = await make_beneficiary(alice, date_of_birth="2008-12-20")
    await record_service(alice, late["id"], service_date="2026-03-01")
    await catch_up()

    services = await values(
        reporting_client, reader, "services_delivered", **YEAR, by="age_group"
    )
    # two services before the birthday, one after; the December birthday
    # has not come by March: 17, though 2026 - 2008 is 18
    assert by_value(services) == {"0_17": 3, "18_plus": 1}
    people = await values(
        reporting_client, reader, "people_reached", **YEAR, by="age_group"
    )
    assert by_value(people) == {"0_17": 2}  # at their first service
    after = await values(
        reporting_client,
        reader,
        "people_reached",
        start="2026-07-01",
        end="2026-12-31",
        by="age_group",
    )
    assert by_value(after) == {"18_plus": 1}
    adults = await values(
        reporting_client, reader, "people_reached", **YEAR, age_group="18_plus"
    )
    assert adults["total"]["value"] == 1  # served at 18 in the year
    registered = await values(
        reporting_client, reader, "new_beneficiaries", **YEAR, by="age_group"
    )
    assert by_value(registered) == {"0_17": 2}  # both 17 on 10 January


async def test_two_band_sets_in_one_run_give_two_tables(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    reader = issue(orgs["a"], Role.me_officer)
    for born, served in [
        ("1960-01-10", "2026-02-01"),  # 66
        ("1990-04-01", "2026-02-01"),  # 35
        ("2021-07-01", "2026-02-01"),  # 4
        ("2014-03-01", "2026-02-01"),  # 11
    ]:
        person = await make_beneficiary(alice, date_of_birth=born)
        await record_service(alice, person["id"], service_date=served)
    await catch_up()

    hpc = await values(
        reporting_client,
        reader,
        "services_delivered",
        **YEAR,
        by="age_group",
        age_bands="0-17,18-59,60+",
    )
    assert by_value(hpc) == {"0_17": 2, "18_59": 1, "60_plus": 1}
    agd = await values(
        reporting_client,
        reader,
        "services_delivered",
        **YEAR,
        by="age_group",
        age_bands="unhcr_agd",
    )
    assert by_value(agd) == {"0_4": 1, "5_11": 1, "18_59": 1, "60_plus": 1}
    default = await values(
        reporting_client, reader, "services_delivered", **YEAR, by="age_group"
    )
    assert by_value(default) == {"0_17": 2, "18_plus": 2}

    r = await reporting_client.get(
        "/v1/overview", params={**YEAR, "age_bands": "hpc"}, headers=reader.headers()
    )
    assert r.status_code == 200, r.text
    table = next(
        t["values"]
        for t in r.json()["tables"]
        if t["values"]["disaggregations"] == ["sex", "age_group"]
    )
    assert {c["dims"]["age_group"] for c in table["cells"]} == {
        "0_17",
        "18_59",
        "60_plus",
    }

    r = await reporting_client.get(
        "/v1/feeds/services_delivered",
        params={"by": "age_group", "age_bands": "hpc", "format": "csv"},
        headers=reader.headers(),
    )
    assert r.status_code == 200, r.text
    assert "60_plus" in r.text
    assert "18_plus" not in r.text

    manager = issue(orgs["a"], Role.programme_manager, subject="manager")
    r = await reporting_client.post(
        "/v1/exports",
        json={
            **YEAR,
            "indicator": "services_delivered",
            "by": ["age_group"],
            "format": "csv",
            "age_bands": "unhcr_agd",
        },
        headers=manager.headers(),
    )
    assert r.status_code == 202, r.text
    await run_export({"runtime": reporting_app.state.runtime}, r.json()["id"])
    r = await reporting_client.get(
        f"/v1/exports/{r.json()['id']}/file", headers=manager.headers()
    )
    assert r.status_code == 200, r.text
    assert "0_4" in r.text
    assert "5_11" in r.text


async def test_filter_values_and_age_bands_a_dimension_never_takes_are_refused(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    reader = issue(orgs["a"], Role.me_officer)
    person = await make_beneficiary(alice, sex="female")
    await record_service(alice, person["id"])
    await catch_up()

    async def asked(path: str = "services_delivered", **params: str) -> httpx.Response:
        return await reporting_client.get(
            f"/v1/indicators/{path}/values",
            params={**YEAR, **params},
            headers=reader.headers(),
        )

    r = await asked(sex="femal")
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "'femal'" in problem["detail"]
    assert "female" in problem["detail"]
    assert problem["errors"][0]["loc"] == ["query", "sex"]
    assert "female, male" in problem["errors"][0]["msg"]

    r = await asked(age_group="18_plus", age_bands="hpc")
    assert r.status_code == 422, r.text
    assert "0_17, 18_59, 60_plus" in r.json()["errors"][0]["msg"]
    r = await asked(age_group="18_59", age_bands="hpc")
    assert r.status_code == 200, r.text
    assert r.json()["total"]["value"] == 1

    r = await asked(site="not-an-id")
    assert r.status_code == 422, r.text
    r = await asked(site=str(uuid.uuid4()))  # an id of nothing: form only
    assert r.status_code == 200, r.text
    assert r.json()["total"]["value"] == 0
    r = await asked(month="2026-13")
    assert r.status_code == 422, r.text
    r = await asked(activity="individual_counseling")
    assert r.status_code == 422, r.text
    r = await asked("referrals_made", status="waiting")
    assert r.status_code == 422, r.text

    for bands in ("0-17,20+", "0-17,18-59", "5-17,18+", "children"):
        r = await asked(age_bands=bands)
        assert r.status_code == 422, (bands, r.text)
        assert r.json()["errors"][0]["loc"] == ["query", "age_bands"]

    r = await reporting_client.get(
        "/v1/feeds/services_delivered",
        params={"sex": "femal"},
        headers=reader.headers(),
    )
    assert r.status_code == 422, r.text
    r = await reporting_client.post(
        "/v1/exports",
        json={**YEAR, "indicator": "services_delivered", "filters": {"sex": ["femal"]}},
        headers=reader.headers(),
    )
    assert r.status_code == 422, r.text
    r = await reporting_client.get(
        "/v1/overview", params={**YEAR, "age_bands": "0-9"}, headers=reader.headers()
    )
    assert r.status_code == 422, r.text


async def test_anonymous_groups_are_read_under_the_names_they_are_written_with(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    reader = issue(orgs["a"], Role.me_officer)
    r = await alice.post(
        "/v1/anonymous-services",
        {
            "activity_code": "awareness_session",
            "service_date": "2026-02-10",
            "counts": [
                {"sex": "female", "age_group": "18_plus", "count": 12},
                {"sex": "male", "age_group": "0_17", "count": 7},
                {"sex": "female", "age_group": "under_18", "count": 3},
            ],
        },
    )
    assert r.status_code == 201, r.text
    written = {(c["sex"], c["age_group"]) for c in r.json()["counts"]}
    assert written == {("female", "18_plus"), ("male", "0_17"), ("female", "0_17")}
    await catch_up()

    anonymous = await values(
        reporting_client, reader, "people_reached_anonymous", **YEAR, by="age_group"
    )
    assert by_value(anonymous) == {"0_17": 10, "18_plus": 12}
    children = await values(
        reporting_client, reader, "people_reached_anonymous", **YEAR, age_group="0_17"
    )
    assert children["total"]["value"] == 10
    hpc = await values(
        reporting_client,
        reader,
        "people_reached_anonymous",
        **YEAR,
        by="age_group",
        age_bands="hpc",
    )
    # 18_plus spans two bands of 0-17,18-59,60+: no single band holds it
    assert by_value(hpc) == {"0_17": 10, "unknown": 12}
