"""First light: producers' writes reach the indicators through the feed pull."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from shared.auth import Role
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller, Org


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


async def test_a_pull_moves_the_ingestion_head_only_when_a_dimension_changed(
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    catch_up: Any,
) -> None:
    """A pull that finds the places and organisations as they were takes no
    ingestion seq (every reader would reload its frames for nothing); a new
    organisation does, and its name reaches reporting."""

    async def head() -> tuple[int, set[str]]:
        async with reporting_app.state.engine.connect() as conn:
            seq = (await conn.execute(text("SELECT seq FROM ingest_counter"))).one()
            names = await conn.execute(text("SELECT name FROM organisation_dim"))
            return int(seq[0]), set(names.scalars())

    await catch_up()
    settled, known = await head()
    assert "Org A (lead)" in known
    await catch_up()
    assert await head() == (settled, known)
    admin = issue(Org(str(uuid.UUID(int=0)), "platform"), Role.platform_admin)
    r = await admin.post("/v1/organisations", {"name": "Org C", "type": "cso"})
    assert r.status_code == 201, r.text
    await catch_up()
    moved, now_known = await head()
    assert moved > settled
    assert now_known == known | {"Org C"}
