"""Integrator API keys: issued by a programme manager, scoped, revocable,
rate limited, never stored or shown again in clear."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from shared.auth import Role
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller
from tests.databases import count_begins

PERIOD = {"start": "2026-01-01", "end": "2026-12-31"}


async def test_a_key_reads_its_organisations_indicators_suppressed(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    manager = issue(orgs["a"], Role.programme_manager)
    r = await reporting_client.post(
        "/v1/api-keys",
        json={"name": "MoH DHIS2", "indicators": ["people_reached"]},
        headers=manager.headers(),
    )
    assert r.status_code == 201, r.text
    issued = r.json()
    secret = issued["key"]
    for _ in range(3):
        person = await make_beneficiary(alice)
        await record_service(alice, person["id"])
    await catch_up()
    key = {"X-API-Key": secret}
    r = await reporting_client.get(
        "/v1/indicators/people_reached/values", params=PERIOD, headers=key
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["suppression_threshold"] == 5
    assert body["total"]["suppressed"]  # 3 < 5
    assert body["total"]["value"] is None
    r = await reporting_client.get(
        "/v1/indicators/services_delivered/values", params=PERIOD, headers=key
    )
    assert r.status_code == 403  # not scoped to it
    r = await reporting_client.get("/v1/indicators", headers=key)
    assert [i["id"] for i in r.json()["items"]] == ["people_reached"]

    async with reporting_app.state.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT secret_hash FROM api_key"))).all()
    assert secret not in str(stored)
    listed = await reporting_client.get("/v1/api-keys", headers=manager.headers())
    assert secret not in listed.text
    assert [k["name"] for k in listed.json()["items"]] == ["MoH DHIS2"]

    other = issue(orgs["b"], Role.programme_manager)
    r = await reporting_client.delete(
        f"/v1/api-keys/{issued['id']}", headers=other.headers()
    )
    assert r.status_code == 404
    r = await reporting_client.delete(
        f"/v1/api-keys/{issued['id']}", headers=manager.headers()
    )
    assert r.status_code == 200
    assert r.json()["revoked_at"] is not None
    r = await reporting_client.get(
        "/v1/indicators/people_reached/values", params=PERIOD, headers=key
    )
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_keys_are_rate_limited_and_only_managers_issue_them(
    issue: Any, orgs: Any, reporting_client: httpx.AsyncClient
) -> None:
    worker = issue(orgs["a"], Role.case_worker)
    r = await reporting_client.post(
        "/v1/api-keys", json={"name": "x"}, headers=worker.headers()
    )
    assert r.status_code == 403
    manager = issue(orgs["a"], Role.programme_manager)
    r = await reporting_client.post(
        "/v1/api-keys",
        json={"name": "x", "indicators": ["no_such_thing"]},
        headers=manager.headers(),
    )
    assert r.status_code == 422
    r = await reporting_client.post(
        "/v1/api-keys",
        json={"name": "slow", "rate_per_minute": 3},
        headers=manager.headers(),
    )
    key = {"X-API-Key": r.json()["key"]}
    answers = [
        (await reporting_client.get("/v1/indicators", headers=key)).status_code
        for _ in range(5)
    ]
    assert answers[:3] == [200, 200, 200]
    assert 429 in answers[3:]
    r = await reporting_client.get("/v1/indicators", headers=key)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    r = await reporting_client.get(
        "/v1/indicators", headers={"X-API-Key": "mhpss_forged"}
    )
    assert r.status_code == 401


async def test_a_name_with_a_nul_character_is_invalid_not_a_500(
    issue: Any, orgs: Any, reporting_client: httpx.AsyncClient
) -> None:
    manager = issue(orgs["a"], Role.programme_manager)
    r = await reporting_client.post(
        "/v1/api-keys",
        json={"name": "MoH\u0000DHIS2"},
        headers=manager.headers(),
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "name"]


async def test_a_read_opens_no_transaction_once_the_key_was_used(
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A key's look-up, the ingestion head and the caller's language are
    single statements, sent with no BEGIN and ROLLBACK around them (the
    key's first use in a minute writes its last_used_at)."""
    manager = issue(orgs["a"], Role.programme_manager)
    r = await reporting_client.post(
        "/v1/api-keys", json={"name": "feeds"}, headers=manager.headers()
    )
    assert r.status_code == 201, r.text
    key = {"X-API-Key": r.json()["key"]}
    began = count_begins(monkeypatch)
    path = "/v1/indicators/people_reached/values"
    r = await reporting_client.get(path, params=PERIOD, headers=key)
    assert r.status_code == 200, r.text
    assert began  # the store's first load, and the key's last_used_at
    for headers in (key, manager.headers()):
        began.clear()
        r = await reporting_client.get(path, params=PERIOD, headers=headers)
        assert r.status_code == 200, r.text
        assert began == []
