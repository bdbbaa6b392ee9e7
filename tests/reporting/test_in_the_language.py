"""Reporting answers in the people's language: the values route labels every
code and place as the exports and the overview do, and the catalogue, the
overview and the XLSX About sheet give each indicator's definition in the
language asked for (``lang``, else Accept-Language)."""

from __future__ import annotations

import io
from typing import Any

import httpx
import openpyxl
from fastapi import FastAPI

from services.reporting.exports.jobs import run_export
from shared.auth import Role
from shared.i18n import Language
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller

PERIOD = {"start": "2026-01-01", "end": "2026-12-31"}


async def served_at_qadia(alice: Caller, catch_up: Any) -> None:
    """A woman served by counselling at Qadia camp (Duhok), reporting caught up."""
    r = await alice.get("/v1/locations", params={"level": "site", "limit": 500})
    qadia = next(s["id"] for s in r.json()["items"] if s["name"] == "Qadia camp")
    person = await make_beneficiary(alice, sex="female")
    await record_service(alice, person["id"], site_id=qadia)
    await catch_up()


async def test_indicator_values_label_codes_and_places_in_the_language_asked(
    alice: Caller,
    catch_up: Any,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
) -> None:
    await served_at_qadia(alice, catch_up)
    me = issue(orgs["a"], Role.me_officer)

    async def values(
        headers: dict[str, str] | None = None, **params: str
    ) -> httpx.Response:
        return await reporting_client.get(
            "/v1/indicators/people_reached/values",
            params={**PERIOD, "by": "sex,governorate,activity", **params},
            headers={**me.headers(), **(headers or {})},
        )

    arabic = await values(lang="ar", sex="female")
    kurdish = await values({"Accept-Language": "ckb, en;q=0.4"})
    english = await values()

    assert arabic.status_code == 200, arabic.text
    assert arabic.headers["content-language"] == "ar"
    body = arabic.json()
    assert body["name"] == "الأشخاص الذين تم الوصول إليهم (مسجّلون، دون تكرار)"
    assert body["filters"] == {"sex": ["female"]}  # lang is not a filter
    [cell] = body["cells"]
    governorate = cell["dims"]["governorate"]
    assert body["labels"]["sex"] == {"female": "أنثى"}
    assert body["labels"]["governorate"][governorate] == "دهوك"
    assert body["labels"]["activity"]["individual_counselling"] == "إرشاد فردي"
    assert body["labels"]["activity"]["advocacy"] == Language("ar").label(
        "activity", "advocacy"
    )  # every code the labels name, not only those of the cells
    assert kurdish.headers["content-language"] == "ckb"
    assert kurdish.json()["labels"]["sex"] == {"female": "مێ"}
    assert english.headers["content-language"] == "en"
    assert english.json()["labels"]["sex"] == {"female": "Female"}
    assert english.json()["labels"]["governorate"][governorate] == "Duhok"
    assert english.json()["labels"]["activity"]["individual_counselling"] == (
        "Individual counselling"
    )
    assert english.json()["cells"] == body["cells"]  # figures and codes the same


async def test_the_catalogue_gives_names_and_definitions_in_the_language_asked(
    issue: Any, orgs: Any, reporting_client: httpx.AsyncClient
) -> None:
    me = issue(orgs["a"], Role.me_officer)

    listed = await reporting_client.get(
        "/v1/indicators", params={"limit": 100, "lang": "ckb"}, headers=me.headers()
    )
    one = await reporting_client.get(
        "/v1/indicators/cases_opened",
        headers={**me.headers(), "Accept-Language": "ar"},
    )
    english = await reporting_client.get(
        "/v1/indicators/cases_opened", headers=me.headers()
    )

    assert listed.headers["content-language"] == "ckb"
    kurdish = {i["id"]: i for i in listed.json()["items"]}
    assert kurdish["cases_opened"]["name"] == "کەیسە کراوەکان"
    assert kurdish["cases_opened"]["description"] == (
        "ئەو کەیسانەی بەڕێوەبردنی کەیس کە لە ماوەکەدا کرانەوە."
    )
    assert one.json()["description"] == "حالات إدارة الحالة التي فُتحت خلال الفترة."
    assert (
        english.json()["description"] == "Case-management cases opened in the period."
    )
    assert {
        k: v for k, v in one.json().items() if k not in ("name", "description")
    } == {k: v for k, v in english.json().items() if k not in ("name", "description")}


async def test_the_overview_and_the_about_sheet_define_indicators_in_the_language(
    alice: Caller,
    catch_up: Any,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
) -> None:
    await served_at_qadia(alice, catch_up)
    manager = issue(orgs["a"], Role.programme_manager, subject="manager")
    arabic = Language("ar")

    overview = await reporting_client.get(
        "/v1/overview", params={**PERIOD, "lang": "ar"}, headers=manager.headers()
    )
    document = await reporting_client.get(
        "/v1/overview/document",
        params={**PERIOD, "lang": "ckb"},
        headers=manager.headers(),
    )
    asked = await reporting_client.post(
        "/v1/exports",
        json={"indicator": "people_reached", **PERIOD, "format": "xlsx", "lang": "ar"},
        headers=manager.headers(),
    )
    assert asked.status_code == 202, asked.text
    await run_export({"runtime": reporting_app.state.runtime}, asked.json()["id"])
    file = await reporting_client.get(
        f"/v1/exports/{asked.json()['id']}/file", headers=manager.headers()
    )

    reached = next(
        t
        for t in overview.json()["tables"]
        if t["values"]["indicator"] == "people_reached"
    )
    assert reached["definition"] == arabic.text("definition.people_reached")
    assert reached["definition"].startswith("الأشخاص المسجّلون المختلفون")
    assert Language("ckb").text("definition.cases_opened") not in document.text
    assert Language("ckb").text("definition.people_reached") in document.text
    assert file.status_code == 200, file.text
    workbook = openpyxl.load_workbook(io.BytesIO(file.content))
    about = dict(workbook["About"].iter_rows(values_only=True))
    assert about[arabic.text("export.about.definition")] == arabic.text(
        "definition.people_reached"
    )
