"""Every reporting route, called with another organisation's credentials,
reveals nothing of this organisation (a sweep over the OpenAPI)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI

from services.reporting.exports.jobs import run_export
from shared.auth import Role
from tests.beneficiary.conftest import Caller, make_beneficiary, record_service

PERIOD = {"start": "2026-01-01", "end": "2026-12-31"}
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/exports"): {
        "indicator": "people_reached",
        "start": "2026-01-01",
        "end": "2026-12-31",
        "format": "json",
    },
    ("POST", "/v1/api-keys"): {"name": "intruder"},
}


async def test_another_organisation_sees_nothing_on_any_route(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    person = await make_beneficiary(alice, sex="female")
    await record_service(alice, person["id"])
    await catch_up()
    owner = issue(orgs["a"], Role.programme_manager)
    r = await reporting_client.post(
        "/v1/exports", json=BODIES[("POST", "/v1/exports")], headers=owner.headers()
    )
    assert r.status_code == 202, r.text
    export_id = r.json()["id"]
    await run_export({"runtime": reporting_app.state.runtime}, export_id)
    r = await reporting_client.post(
        "/v1/api-keys", json={"name": "owner's"}, headers=owner.headers()
    )
    key_id = r.json()["id"]
    ids = {"export_id": export_id, "key_id": key_id, "indicator_id": "people_reached"}

    intruder = issue(orgs["b"], Role.programme_manager, Role.me_officer)
    schema = reporting_app.openapi()
    checked = 0
    for template, operations in schema["paths"].items():
        if not template.startswith("/v1/"):
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template)
        for method in operations:
            method = method.upper()
            body = BODIES.get((method, template))
            if method in {"POST", "PUT", "PATCH"}:
                assert body is not None, f"add a body for {method} {template}"
            r = await reporting_client.request(
                method,
                path,
                json=body,
                params={**PERIOD, "since": 0} if method == "GET" else None,
                headers=intruder.headers(),
            )
            checked += 1
            assert r.status_code < 500, (method, template, r.text)
            if "{export_id}" in template or "{key_id}" in template:
                assert r.status_code == 404, (method, template, r.text)
            text = r.text
            assert person["id"] not in text
            if r.status_code == 200 and "values" in template:
                assert r.json()["total"]["value"] in (0, None)
            if template == "/v1/overview":
                for table in r.json()["tables"]:
                    assert table["values"]["total"]["value"] in (0, None), table
            if template.startswith("/v1/feeds"):
                assert '"value":1' not in text.replace(" ", "")
    assert checked >= 10
    r = await reporting_client.get(f"/v1/exports/{export_id}", headers=owner.headers())
    assert r.json()["status"] == "ready"
