"""Answers over unusual fact sets, through the API."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from services.reporting.suppression import ALL
from shared.auth import Role
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller
from tests.reporting.helpers import awareness_session, by_value, values


async def test_anonymous_services_alone_answer_by_age_group(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """No one registered yet, only an anonymous session: the age groups come
    from its lines (this was a 500 while the beneficiaries table was empty)."""
    reader = issue(orgs["a"], Role.me_officer)
    await awareness_session(alice)
    await catch_up()
    services = await values(
        reporting_client, reader, "services_delivered", by="age_group,sex"
    )
    assert by_value(services) == {("18_plus", "female"): 12, ("0_17", "male"): 7}
    assert services["total"]["value"] == 19
    people = await values(reporting_client, reader, "people_reached", by="age_group")
    assert by_value(people) == {}
    assert people["total"]["value"] == 0


async def test_a_dim_at_its_code_types_edge_crosses_without_overflow(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """Services in 127 months: with the month of the rows holding no fact
    (no date), the month dim has 128 labels, indices 0 to 127, the most an
    int8 holds, so its codes are kept as int8; crossed with sex, a cell
    index (month x 4 + sex) runs past 500, which only widening before the
    arithmetic keeps from wrapping into other cells."""
    person = await make_beneficiary(alice)
    months = [date(2015 + (8 + i) // 12, (8 + i) % 12 + 1, 1) for i in range(127)]
    for month in months:
        await record_service(alice, person["id"], service_date=month.isoformat())
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)
    labels = {month.isoformat()[:7] for month in months}
    for indicator in ("services_delivered", "people_reached"):
        body = await values(
            reporting_client,
            reader,
            indicator,
            "2015-01-01",
            "2026-12-31",
            by="month,sex",
        )
        cells = by_value(body)
        assert {month for month, _ in cells} == labels, indicator
        assert {sex for _, sex in cells} == {person["sex"]}, indicator
        assert set(cells.values()) == {1}, indicator
        margin = {
            cell["dims"]["month"]: cell["value"]
            for cell in body["margins"]
            if cell["dims"]["sex"] == ALL
        }
        assert margin == dict.fromkeys(labels, 1), indicator
    services = await values(
        reporting_client, reader, "services_delivered", "2015-01-01", "2026-12-31"
    )
    assert services["total"]["value"] == 127
