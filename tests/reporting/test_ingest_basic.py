"""First light: producers' writes reach the indicators through the feed pull."""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth import Role
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller


async def test_services_and_people_reach_indicators(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    one = await make_beneficiary(alice, sex="female")
    two = await make_beneficiary(alice, sex="male")
    await record_service(alice, one["id"], service_date="2026-02-01")
    await record_service(alice, one["id"], service_date="2026-02-03")
    await record_service(alice, two["id"], service_date="2026-02-05")
    assert await catch_up() > 0
    manager = issue(orgs["a"], Role.me_officer)
    r = await reporting_client.get(
        "/v1/indicators/people_reached/values",
        params={"start": "2026-01-01", "end": "2026-03-31", "by": "sex"},
        headers=manager.headers(),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"]["value"] == 2
    assert {c["dims"]["sex"]: c["value"] for c in body["cells"]} == {
        "female": 1,
        "male": 1,
    }
    r = await reporting_client.get(
        "/v1/indicators/services_delivered/values",
        params={"start": "2026-02-02", "end": "2026-02-28"},
        headers=manager.headers(),
    )
    assert r.json()["total"]["value"] == 2
