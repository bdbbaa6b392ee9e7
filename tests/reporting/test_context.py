"""Context on records in reporting: the person's nationality as a
breakdown of people reached, services and registrations."""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth import Role
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller
from tests.reporting.helpers import by_value, values

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}


async def test_people_and_services_by_nationality(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """Two Syrians (one served twice), an Iraqi and a person of no recorded
    nationality; the Iraqi's nationality corrected to Turkish moves them."""
    people = {}
    for name, nationality, served in [
        ("syr1", "SYR", 2),
        ("syr2", "SYR", 1),
        ("irq", "IRQ", 1),
        ("none", None, 1),
    ]:
        person = await make_beneficiary(alice, nationality=nationality)
        for day in ["2026-02-01", "2026-03-01"][:served]:
            await record_service(alice, person["id"], service_date=day)
        people[name] = person
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)

    async def table(indicator: str, **params: Any) -> dict[Any, Any]:
        body = await values(reporting_client, reader, indicator, **YEAR, **params)
        return {"total": body["total"]["value"], **by_value(body)}

    by = {"by": "nationality"}
    assert await table("people_reached", **by) == {
        "total": 4,
        "SYR": 2,
        "IRQ": 1,
        "unknown": 1,
    }
    assert await table("services_delivered", **by) == {
        "total": 5,
        "SYR": 3,
        "IRQ": 1,
        "unknown": 1,
    }
    assert await table("new_beneficiaries", **by) == {
        "total": 4,
        "SYR": 2,
        "IRQ": 1,
        "unknown": 1,
    }
    assert await table("services_delivered", nationality="SYR") == {"total": 3}

    iraqi = people["irq"]
    r = await alice.patch(
        f"/v1/beneficiaries/{iraqi['id']}",
        {"nationality": "TUR"},
        headers={"If-Match": f'"{iraqi["version"]}"'},
    )
    assert r.status_code == 200, r.text
    await catch_up()
    assert await table("people_reached", **by) == {
        "total": 4,
        "SYR": 2,
        "TUR": 1,
        "unknown": 1,
    }

    for wrong in ("syr", "Syria"):
        r = await reporting_client.get(
            "/v1/indicators/people_reached/values",
            params={**YEAR, "nationality": wrong},
            headers=reader.headers(),
        )
        assert r.status_code == 422, r.text
        assert "ISO 3166-1 alpha-3" in r.text
