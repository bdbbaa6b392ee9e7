"""Edges an integrator or a careless query would hit: clear problems, never
a 500, never someone else's export, never a silently widened answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from services.reporting.exports.jobs import run_export
from services.reporting.indicators import service as indicators_service
from services.reporting.settings import ReportingSettings
from shared.auth import Role
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller
from tests.reporting.helpers import one_service_counted

PERIOD = {"start": "2026-01-01", "end": "2026-12-31"}


async def test_bad_feed_and_export_queries_are_refused(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    await one_service_counted(alice, catch_up)
    reader = issue(orgs["a"], Role.me_officer)
    r = await reporting_client.get(
        "/v1/feeds/services_delivered",
        params={"by": "governorate,site"},
        headers=reader.headers(),
    )
    assert r.status_code == 422, r.text
    r = await reporting_client.post(
        "/v1/exports",
        json={**PERIOD, "indicator": "services_delivered", "by": ["site", "district"]},
        headers=reader.headers(),
    )
    assert r.status_code == 422, r.text
    r = await reporting_client.get(
        "/v1/indicators/services_delivered/values",
        params={**PERIOD, "iasc_layr": "specialized"},  # a typo
        headers=reader.headers(),
    )
    assert r.status_code == 400
    assert "iasc_layr" in r.json()["detail"]


async def test_an_export_is_read_only_by_who_asked_for_it(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    await one_service_counted(alice, catch_up)
    manager = issue(orgs["a"], Role.programme_manager, subject="manager")
    r = await reporting_client.post(
        "/v1/exports",
        json={**PERIOD, "indicator": "people_reached", "format": "csv"},
        headers=manager.headers(),
    )
    export_id = r.json()["id"]
    await run_export({"runtime": reporting_app.state.runtime}, export_id)
    r = await reporting_client.get(
        f"/v1/exports/{export_id}/file", headers=manager.headers()
    )
    assert r.status_code == 200
    assert "1" in r.text  # unsuppressed: one person
    colleague = issue(orgs["a"], Role.auditor, subject="auditor")
    for path in (f"/v1/exports/{export_id}", f"/v1/exports/{export_id}/file"):
        r = await reporting_client.get(path, headers=colleague.headers())
        assert r.status_code == 404
    key = await reporting_client.post(
        "/v1/api-keys", json={"name": "moh"}, headers=manager.headers()
    )
    r = await reporting_client.get(
        f"/v1/exports/{export_id}/file", headers={"X-API-Key": key.json()["key"]}
    )
    assert r.status_code == 404


async def test_site_limited_tokens_see_no_figures_without_a_site(
    issue: Any, orgs: Any, site_ids: list[str], reporting_client: httpx.AsyncClient
) -> None:
    limited = issue(orgs["a"], Role.supervisor, sites=site_ids[:1])
    r = await reporting_client.get(
        "/v1/indicators/supervision_sessions/values",
        params=PERIOD,
        headers=limited.headers(),
    )
    assert r.status_code == 200
    assert r.json()["total"]["value"] == 0


async def test_empty_adx_feed_says_so_with_a_cursor(
    issue: Any, orgs: Any, reporting_client: httpx.AsyncClient
) -> None:
    r = await reporting_client.get(
        "/v1/feeds/services_delivered",
        params={"format": "adx", "since": 0},
        headers=issue(orgs["a"], Role.me_officer).headers(),
    )
    assert r.status_code == 204
    assert r.headers["X-Feed-Cursor"] == "0"


async def test_tables_too_big_to_suppress_safely_are_refused(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(indicators_service, "SUPPRESSED_CELLS_LIMIT", 100)
    people = [await make_beneficiary(alice) for _ in range(2)]
    codes = [
        "individual_counselling",
        "pfa",
        "psychiatric_consultation",
        "emotional_support_session",
        "referral_basic_services",
        "clinical_psychological_counselling",
    ]
    for month in range(1, 13):
        for i, code in enumerate(codes):
            await record_service(
                alice,
                people[i % 2]["id"],
                activity_code=code,
                service_date=f"2025-{month:02d}-0{1 + i}",
            )
    await catch_up()
    r = await reporting_client.get(
        "/v1/indicators/services_delivered/values",
        params={"start": "2025-01-01", "end": "2025-12-31", "by": "month,activity,sex"},
        headers=issue(orgs["a"], Role.auditor).headers(),
    )
    assert r.status_code == 422, r.text
    assert "suppression" in r.json()["detail"]


def test_age_bands_are_checked_at_start_up() -> None:
    with pytest.raises(ValidationError):
        ReportingSettings(age_bands="0-17,20+")
    assert ReportingSettings(age_bands="0-5,6-17,18-59,60+").age_bands


async def test_counts_are_integers_and_shares_are_not(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """A count of rows, people or cases is ``1``, not ``1.0``: typed clients
    read it as an integer. A share keeps its decimals."""
    await one_service_counted(alice, catch_up)
    reader = issue(orgs["a"], Role.me_officer)
    for indicator in ("services_delivered", "people_reached", "new_beneficiaries"):
        r = await reporting_client.get(
            f"/v1/indicators/{indicator}/values",
            params={**PERIOD, "by": "sex"},
            headers=reader.headers(),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert type(body["total"]["value"]) is int, (indicator, body["total"])
        assert all(type(cell["value"]) is int for cell in body["cells"]), indicator
    r = await reporting_client.get(
        "/v1/indicators/services_by_qualified_staff/values",
        params=PERIOD,
        headers=reader.headers(),
    )
    assert r.status_code == 200, r.text
    total = r.json()["total"]
    assert type(total["numerator"]) is int
    assert total["value"] is None or type(total["value"]) is float
