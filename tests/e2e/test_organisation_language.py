"""An organisation's default language: its admin sets it under If-Match
(audited), and every document, export and answer its staff ask for without
naming a language (no ``lang``, no Accept-Language) comes in it. ``lang``
wins, then Accept-Language, then the default, then English."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
import openpyxl
from fastapi import FastAPI
from sqlalchemy import text

from services.reporting.exports.jobs import run_export
from services.training.settings import TrainingSettings
from shared.auth import Role
from shared.i18n import Language
from tests.beneficiary.api import beneficiary_body, record_service
from tests.callers import Caller, Org
from tests.training.api import token, trainee

REASON = {"X-Access-Reason": "the person asked for their data"}
PERIOD = {"start": "2026-01-01", "end": "2026-12-31"}


async def organisation_rows(engine: Any, org: Org) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT default_language, version FROM organisation WHERE id = :id"),
            {"id": org.id},
        )
        return [(r[0], r[1]) for r in rows.all()]


async def audited(engine: Any, org: Org) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT subject, action FROM audit_entry "
                "WHERE entity_type = 'organisation' AND entity_id = :id"
            ),
            {"id": org.id},
        )
        return [(r[0], r[1]) for r in rows.all()]


async def test_the_admin_sets_the_default_language_under_if_match(
    beneficiary_app: FastAPI, issue: Any, orgs: dict[str, Org]
) -> None:
    engine = beneficiary_app.state.engine
    admin = issue(orgs["a"], Role.admin, subject="amira.admin")
    path = f"/v1/organisations/{orgs['a'].id}"

    read = await admin.get(path)
    unversioned = await admin.patch(path, {"default_language": "ckb"})
    unknown = await admin.patch(
        path, {"default_language": "fr"}, headers={"If-Match": '"1"'}
    )
    manager = await issue(orgs["a"], Role.programme_manager).patch(
        path, {"default_language": "ckb"}, headers={"If-Match": '"1"'}
    )
    other = await admin.patch(
        f"/v1/organisations/{orgs['b'].id}",
        {"default_language": "ckb"},
        headers={"If-Match": '"1"'},
    )
    assert await organisation_rows(engine, orgs["a"]) == [("en", 1)]

    changed = await admin.patch(
        path, {"default_language": "ckb"}, headers={"If-Match": '"1"'}
    )
    stale = await admin.patch(
        path, {"default_language": "ar"}, headers={"If-Match": '"1"'}
    )

    assert read.status_code == 200, read.text
    assert (read.headers["etag"], read.json()["default_language"]) == ('"1"', "en")
    assert unversioned.status_code == 428
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    assert manager.status_code == other.status_code == 403
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert (changed.json()["default_language"], changed.json()["version"]) == (
        "ckb",
        2,
    )
    assert stale.status_code == 409
    assert stale.json()["current"]["default_language"] == "ckb"
    assert await organisation_rows(engine, orgs["a"]) == [("ckb", 2)]
    assert await organisation_rows(engine, orgs["b"]) == [("en", 1)]
    assert await audited(engine, orgs["a"]) == [("amira.admin", "update")]


async def test_documents_and_exports_come_in_the_organisation_s_language(
    linked_beneficiary: FastAPI,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    admin = issue(orgs["a"], Role.admin)
    changed = await admin.patch(
        f"/v1/organisations/{orgs['a'].id}",
        {"default_language": "ar"},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    person = (await alice.post("/v1/beneficiaries", beneficiary_body())).json()["id"]
    await record_service(alice, person)
    await catch_up()  # reporting copies the organisation with its language
    supervisor = issue(orgs["a"], Role.supervisor)
    manager = issue(orgs["a"], Role.programme_manager)
    other = issue(orgs["b"], Role.programme_manager)
    sar = f"/v1/beneficiaries/{person}/subject-access"

    async def document(caller: Caller, **headers: str) -> httpx.Response:
        return await reporting_client.get(
            "/v1/overview/document",
            params=PERIOD,
            headers={**caller.headers(), **headers},
        )

    plain = await supervisor.get(sar, params={"format": "html"}, headers=REASON)
    asked_english = await supervisor.get(
        sar, params={"format": "html"}, headers={**REASON, "Accept-Language": "en"}
    )
    named = await supervisor.get(
        sar,
        params={"format": "html", "lang": "ckb"},
        headers={**REASON, "Accept-Language": "en"},
    )
    overview = await document(manager)
    overview_kurdish = await document(manager, **{"Accept-Language": "ckb"})
    overview_elsewhere = await document(other)
    values = await reporting_client.get(
        "/v1/indicators/people_reached/values",
        params={**PERIOD, "by": "sex"},
        headers=manager.headers(),
    )
    asked = await reporting_client.post(
        "/v1/exports",
        json={"indicator": "people_reached", **PERIOD, "format": "xlsx"},
        headers=manager.headers(),
    )
    assert asked.status_code == 202, asked.text
    await run_export({"runtime": reporting_app.state.runtime}, asked.json()["id"])
    file = await reporting_client.get(
        f"/v1/exports/{asked.json()['id']}/file", headers=manager.headers()
    )

    assert plain.status_code == 200, plain.text
    assert plain.headers["content-language"] == "ar"
    assert '<html lang="ar" dir="rtl">' in plain.text
    assert asked_english.headers["content-language"] == "en"
    assert named.headers["content-language"] == "ckb"
    assert overview.headers["content-language"] == "ar"
    assert Language("ar").text("overview.title") in overview.text
    assert overview_kurdish.headers["content-language"] == "ckb"
    assert overview_elsewhere.headers["content-language"] == "en"
    assert values.headers["content-language"] == "ar"
    assert values.json()["labels"]["sex"]["female"] == "أنثى"
    workbook = openpyxl.load_workbook(io.BytesIO(file.content))
    about = dict(workbook["About"].iter_rows(values_only=True))
    assert about[Language("ar").text("export.about.language")] == "ar"


async def test_a_trainee_s_document_comes_in_the_organisation_s_language(
    linked_training: FastAPI,
    issue: Any,
    orgs: dict[str, Org],
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    """The training service keeps no organisations: it asks the beneficiary
    service, only when the request names no language."""
    admin = issue(orgs["a"], Role.admin)
    changed = await admin.patch(
        f"/v1/organisations/{orgs['a'].id}",
        {"default_language": "ckb"},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    org = uuid.UUID(orgs["a"].id)
    made = await training_client.post(
        "/v1/trainees",
        json=trainee(),
        headers=token(training_settings, org, Role.trainer),
    )
    assert made.status_code == 201, made.text
    path = f"/v1/trainees/{made.json()['id']}/subject-access"
    supervisor = token(training_settings, org, Role.supervisor) | REASON

    plain = await training_client.get(
        path, params={"format": "html"}, headers=supervisor
    )
    english = await training_client.get(
        path, params={"format": "html"}, headers=supervisor | {"Accept-Language": "en"}
    )

    assert plain.status_code == 200, plain.text
    assert plain.headers["content-language"] == "ckb"
    assert '<html lang="ckb" dir="rtl">' in plain.text
    assert english.headers["content-language"] == "en"
