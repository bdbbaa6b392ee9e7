"""Imports on PostgreSQL: CSV, XLSX, ODK Central and KoboToolbox exports,
and a pull from a stand-in of the KoboToolbox API v2 that pages, times out
and answers 500. Each checks that nothing is lost and nothing is doubled."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.imports import mapping
from services.beneficiary.imports import service as imports_service
from services.beneficiary.imports.jobs import resume_imports, run_import
from services.beneficiary.imports.mapping import (
    MappingSpec,
    Sites,
    convert,
    lookup,
    record_id,
)
from services.beneficiary.imports.models import ImportStatus
from services.beneficiary.imports.sources import Row
from services.beneficiary.sync import service as sync_service
from shared import bulk
from shared.auth import Role
from tests.beneficiary.api import count_rows, give_consent
from tests.callers import Caller, Org

MAPPING = json.loads(
    (
        Path(__file__).parent.parent / "data" / "kobo_registration_mapping.json"
    ).read_text()
)
HEADER = [
    "start",
    "respondent/full_name",
    "respondent/phone",
    "respondent/sex",
    "respondent/age",
    "respondent/displacement",
    "location/site",
    "consent/registration",
    "consent/services",
    "session/activity",
    "session/date",
    "session/staff",
    "session/minutes",
    "meta/instanceID",
    "_id",
    "_uuid",
    "_submission_time",
]


def submission(n: int, **overrides: Any) -> dict[str, Any]:
    """One Kobo submission as the data API (and a CSV export) shapes it."""
    sub = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sub-{n}"))
    row = {
        "start": "2026-02-01T09:00:00.000+03:00",
        "respondent/full_name": f"Person {n}",
        "respondent/phone": f"+96475000{n:05d}",
        "respondent/sex": "f" if n % 2 else "m",
        "respondent/age": str(20 + n % 40),
        "respondent/displacement": "idp",
        "location/site": "qadia",
        "consent/registration": "yes",
        "consent/services": "yes",
        "session/activity": "counselling",
        "session/date": "03/02/2026",
        "session/staff": "cw-7",
        "session/minutes": "45",
        "meta/instanceID": f"uuid:{sub}",
        "_id": n,
        "_uuid": sub,
        "_submission_time": "2026-02-03T11:12:13",
    }
    row.update(overrides)
    return row


def as_csv(rows: list[dict[str, Any]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def as_xlsx(rows: list[dict[str, Any]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append([row.get(h) for h in HEADER])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def manager(issue: Any, orgs: dict[str, Org]) -> Caller:
    return issue(orgs["a"], Role.programme_manager, subject="pm-a")  # type: ignore[no-any-return]


async def make_mapping(manager: Caller, body: dict[str, Any] = MAPPING) -> str:
    r = await manager.post("/v1/import-mappings", body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def start(
    manager: Caller,
    mapping_id: str,
    content: bytes,
    *,
    kind: str = "csv",
    dry_run: bool = False,
) -> dict[str, Any]:
    r = await manager.post(
        "/v1/imports",
        {
            "mapping_id": mapping_id,
            "dry_run": dry_run,
            "file": {
                "name": f"export.{kind}",
                "format": kind,
                "content_base64": base64.b64encode(content).decode(),
            },
        },
    )
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


async def finish(app: FastAPI, manager: Caller, import_id: str) -> dict[str, Any]:
    status = await run_import({"runtime": app.state.runtime}, import_id=import_id)
    assert status == "done", status
    r = await manager.get(f"/v1/imports/{import_id}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def refusals(manager: Caller, import_id: str) -> list[dict[str, Any]]:
    r = await manager.get(f"/v1/imports/{import_id}/refusals", params={"limit": 500})
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


async def written(engine: AsyncEngine) -> tuple[int, int, int]:
    return (
        await count_rows(engine, "beneficiary"),
        await count_rows(engine, "service_record"),
        await count_rows(engine, "consent_entry"),
    )


async def still_kept(engine: AsyncEngine, column: str) -> int:
    """Imports still holding their file or Kobo token."""
    async with engine.connect() as conn:
        query = f"SELECT count(*) FROM import_job WHERE {column} IS NOT NULL"
        return int((await conn.execute(text(query))).scalar_one())


async def test_a_kobo_csv_export_imports_once(
    beneficiary_app: FastAPI, manager: Caller, beneficiary_engine: AsyncEngine
) -> None:
    mapping_id = await make_mapping(manager)
    content = as_csv([submission(n) for n in range(1, 13)])
    job = await start(manager, mapping_id, content)
    assert job["status"] == "queued"
    assert job["total"] == 12
    done = await finish(beneficiary_app, manager, job["id"])
    assert done["done"] == 12
    assert done["refused"] == 0
    assert done["outcomes"]["beneficiary"] == {"created": 12}
    assert done["outcomes"]["service_record"] == {"created": 12}
    assert await written(beneficiary_engine) == (12, 12, 24)
    events = await count_rows(beneficiary_engine, "outbox_event")
    audits = await count_rows(beneficiary_engine, "audit_entry")

    again = await finish(
        beneficiary_app, manager, (await start(manager, mapping_id, content))["id"]
    )
    assert again["outcomes"]["beneficiary"] == {"unchanged": 12}
    assert again["outcomes"]["service_record"] == {"unchanged": 12}
    assert await written(beneficiary_engine) == (12, 12, 24)
    assert await count_rows(beneficiary_engine, "outbox_event") == events
    # the second import is a new act, so its start is audited once; the
    # records it finds unchanged add no row
    assert await count_rows(beneficiary_engine, "audit_entry") == audits + 1

    person_id = record_id(uuid.UUID(manager.org.id), "person", submission(1)["_uuid"])
    person = await manager.get(f"/v1/beneficiaries/{person_id}")
    assert person.status_code == 200, person.text
    assert person.json()["full_name"] == "Person 1"
    assert person.json()["sex"] == "female"
    assert await still_kept(beneficiary_engine, "source_enc") == 0  # dropped once done


async def test_a_dry_run_reports_and_writes_nothing(
    beneficiary_app: FastAPI, manager: Caller, beneficiary_engine: AsyncEngine
) -> None:
    mapping_id = await make_mapping(manager)
    rows = [
        submission(1),
        submission(2, **{"respondent/sex": "x"}),  # unknown choice
        # an unmapped site, typed as free text with a person's name in it
        submission(3, **{"location/site": "Tent 12, Amal Hassan"}),
        submission(4, **{"session/date": "31/31/2026"}),  # bad date
        submission(5, **{"consent/registration": "no"}),  # no consent
        submission(6, **{"_uuid": "", "meta/instanceID": ""}),  # no id
        submission(7, **{"session/activity": ""}),  # a person, no service
    ]
    job = await start(manager, mapping_id, as_csv(rows), dry_run=True)
    done = await finish(beneficiary_app, manager, job["id"])
    assert await written(beneficiary_engine) == (0, 0, 0)
    assert await count_rows(beneficiary_engine, "outbox_event") == 0
    assert done["done"] == 7
    assert done["refused"] == 5
    assert done["outcomes"]["beneficiary"]["created"] == 2
    assert done["outcomes"]["beneficiary"]["rejected"] == 1
    found = {(r["row_number"], r["field"]) for r in await refusals(manager, job["id"])}
    assert (3, "respondent/sex") in found
    assert (4, "location/site") in found
    assert (5, "session/date") in found
    assert (7, "_uuid") in found
    assert any(row == 6 for row, _ in found)
    reasons = " ".join(r["reason"] for r in await refusals(manager, job["id"]))
    assert "'x'" in reasons  # a code-like value is named, to fix the mapping
    assert "Amal" not in reasons  # refusals are not encrypted: free text never
    assert "not shown" in reasons
    assert "Person" not in reasons  # no person's data in a refusal

    real = await finish(
        beneficiary_app, manager, (await start(manager, mapping_id, as_csv(rows)))["id"]
    )
    assert real["refused"] == 5
    assert await written(beneficiary_engine) == (2, 1, 4)


async def test_a_submission_twice_in_one_file_is_written_once(
    beneficiary_app: FastAPI, manager: Caller, beneficiary_engine: AsyncEngine
) -> None:
    mapping_id = await make_mapping(manager)
    rows = [submission(1), submission(2), submission(1)]
    done = await finish(
        beneficiary_app, manager, (await start(manager, mapping_id, as_csv(rows)))["id"]
    )
    assert done["refused"] == 0
    assert done["outcomes"]["beneficiary"] == {"created": 2, "unchanged": 1}
    assert await written(beneficiary_engine) == (2, 2, 4)


async def test_an_xlsx_export_imports(
    beneficiary_app: FastAPI, manager: Caller, beneficiary_engine: AsyncEngine
) -> None:
    mapping_id = await make_mapping(manager)
    rows = [submission(n, **{"respondent/age": 30, "_id": n}) for n in range(1, 6)]
    job = await start(manager, mapping_id, as_xlsx(rows), kind="xlsx")
    done = await finish(beneficiary_app, manager, job["id"])
    assert done["refused"] == 0, await refusals(manager, job["id"])
    assert await written(beneficiary_engine) == (5, 5, 10)


async def test_an_odk_central_csv_export_imports(
    beneficiary_app: FastAPI, manager: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """ODK Central joins groups with '-' and names the instance id KEY."""
    header = [h.replace("/", "-") for h in HEADER if not h.startswith("_")]
    header += ["KEY", "SubmissionDate"]
    rows = []
    for n in range(1, 4):
        kobo = submission(n)
        row = {h.replace("/", "-"): v for h, v in kobo.items() if not h.startswith("_")}
        row["KEY"] = kobo["meta/instanceID"]
        row["SubmissionDate"] = "2026-02-03T11:12:13.000Z"
        rows.append(row)
    body = json.loads(json.dumps(MAPPING))
    body["name"] = "ODK: PSS registration"
    body["spec"]["submission_id"] = ["KEY"]
    body["spec"]["person"]["fields"]["registration_date"] = "SubmissionDate"
    mapping_id = await make_mapping(manager, body)
    done = await finish(
        beneficiary_app,
        manager,
        (await start(manager, mapping_id, as_csv(rows, header)))["id"],
    )
    assert done["refused"] == 0, await refusals(manager, done["id"])
    assert await written(beneficiary_engine) == (3, 3, 6)
    kobo_mapping = await make_mapping(manager)  # the same submissions from Kobo
    again = await finish(
        beneficiary_app,
        manager,
        (
            await start(
                manager, kobo_mapping, as_csv([submission(n) for n in range(1, 4)])
            )
        )["id"],
    )
    assert again["outcomes"]["beneficiary"] == {"unchanged": 3}
    assert await written(beneficiary_engine) == (3, 3, 6)


async def test_a_mapping_is_versioned_by_name(manager: Caller) -> None:
    first = await manager.post("/v1/import-mappings", MAPPING)
    second = await manager.post("/v1/import-mappings", MAPPING)
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    listed = await manager.get("/v1/import-mappings")
    assert [m["version"] for m in listed.json()["items"]] == [2, 1]
    bad = await manager.post(
        "/v1/import-mappings",
        {"name": "x", "spec": {"person": {"fields": {"shoe_size": "q"}}}},
    )
    assert bad.status_code == 422


async def test_only_managers_import_and_only_into_their_sites(
    beneficiary_app: FastAPI,
    issue: Any,
    orgs: dict[str, Org],
    alice: Caller,
    manager: Caller,
    beneficiary_engine: AsyncEngine,
) -> None:
    assert (await alice.post("/v1/import-mappings", MAPPING)).status_code == 403
    mapping_id = await make_mapping(manager)
    r = await alice.post(
        "/v1/imports",
        {
            "mapping_id": mapping_id,
            "dry_run": False,
            "file": {"name": "a.csv", "format": "csv", "content_base64": "YQ=="},
        },
    )
    assert r.status_code == 403
    sites = (
        await manager.get("/v1/locations", params={"level": "site", "limit": 500})
    ).json()["items"]
    dawoodia = next(s["id"] for s in sites if s["name"] == "Dawoodia camp")
    scoped = issue(orgs["a"], Role.programme_manager, sites=[dawoodia])
    rows = [submission(1), submission(2, **{"location/site": "dawoodia"})]
    done = await finish(
        beneficiary_app, scoped, (await start(scoped, mapping_id, as_csv(rows)))["id"]
    )
    assert done["refused"] == 1
    assert await written(beneficiary_engine) == (1, 1, 2)
    other = issue(orgs["b"], Role.programme_manager)
    assert (await other.get(f"/v1/imports/{done['id']}")).status_code == 404
    assert (await other.get(f"/v1/import-mappings/{mapping_id}")).status_code == 404
    assert (await manager.get(f"/v1/imports/{done['id']}")).status_code == 200


async def test_an_import_killed_between_batches_resumes_without_doubles(
    beneficiary_app: FastAPI, manager: Caller, beneficiary_engine: AsyncEngine
) -> None:
    runtime = beneficiary_app.state.runtime
    mapping_id = await make_mapping(manager)
    rows = [submission(n) for n in range(1, 26)]
    job = await start(manager, mapping_id, as_csv(rows))
    settings = imports_service.RunSettings(
        batch_rows=10, kobo_timeout_seconds=1, kobo_tries=1, kobo_backoff_seconds=0
    )
    batches = 0

    async def crash_after_two(job_row: Any) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise KeyboardInterrupt  # as a SIGKILL: nothing after this runs

    with pytest.raises(KeyboardInterrupt):
        await run_once(runtime, settings, job["id"], progress=crash_after_two)
    halfway = (await manager.get(f"/v1/imports/{job['id']}")).json()
    ctx = {"runtime": runtime}
    assert await resume_imports(ctx) == 0  # still moving, as far as anyone knows
    async with beneficiary_engine.begin() as conn:
        await conn.execute(
            text("UPDATE import_job SET updated_at = now() - interval '10 minutes'")
        )
    assert await resume_imports(ctx) == 1  # stalled: queued again
    assert halfway["status"] == "running"
    assert halfway["done"] == 20
    assert halfway["seconds_left"] is not None
    assert await written(beneficiary_engine) == (20, 20, 40)
    status = await run_once(runtime, settings, job["id"])
    assert status == "done"
    done = (await manager.get(f"/v1/imports/{job['id']}")).json()
    assert done["done"] == 25
    assert done["outcomes"]["beneficiary"] == {"created": 25}
    assert await written(beneficiary_engine) == (25, 25, 50)


# A stand-in of the KoboToolbox API v2 data endpoint


class KoboStandIn:
    """``GET /api/v2/assets/{uid}/data/`` as Kobo answers it: token auth,
    ``limit``/``start`` paging with ``count``/``next``/``results``; with
    faults to order (500s, a stall longer than the client's timeout)."""

    def __init__(self, submissions: list[dict[str, Any]]) -> None:
        self.submissions = submissions
        self.faults: list[str] = []
        self.calls: list[int] = []
        self.app = FastAPI()
        self.app.get("/api/v2/assets/{uid}/data/")(self.data)

    async def data(
        self,
        uid: str,
        request: Request,
        limit: int = 100,
        start: int = 0,
        authorization: str = Header(default=""),
    ) -> dict[str, Any]:
        if authorization != "Token secret-token" or uid != "aXkqP3mLxR":
            raise HTTPException(403 if uid == "aXkqP3mLxR" else 404)
        self.calls.append(start)
        if self.faults:
            fault = self.faults.pop(0)
            if fault == "500":
                raise HTTPException(500)
            if fault == "stall":  # twice the client's timeout (0.5 s)
                await asyncio.sleep(1)
        page = self.submissions[start : start + limit]
        more = start + limit < len(self.submissions)
        base = str(request.url).split("?")[0]
        return {
            "count": len(self.submissions),
            "next": f"{base}?format=json&limit={limit}&start={start + limit}"
            if more
            else None,
            "previous": None,
            "results": page,
        }


@pytest.fixture
async def kobo() -> AsyncIterator[tuple[KoboStandIn, str]]:
    stand_in = KoboStandIn([submission(n) for n in range(1, 24)])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(stand_in.app, log_level="error"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield stand_in, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
    sock.close()


async def pull(
    app: FastAPI,
    manager: Caller,
    server: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    tries: int = 3,
    token: str = "secret-token",
) -> tuple[str, str | None]:
    runtime = app.state.runtime
    monkeypatch.setattr(runtime.settings, "import_kobo_servers", [server])
    mapping_id = await make_mapping(manager)
    r = await manager.post(
        "/v1/imports",
        {
            "mapping_id": mapping_id,
            "dry_run": False,
            "kobo": {"server": server, "asset_uid": "aXkqP3mLxR", "token": token},
        },
    )
    assert r.status_code == 202, r.text
    settings = imports_service.RunSettings(
        batch_rows=10,
        kobo_timeout_seconds=0.5,
        kobo_tries=tries,
        kobo_backoff_seconds=0.01,
    )
    status = await run_once(runtime, settings, r.json()["id"])
    return r.json()["id"], status


async def test_a_kobo_pull_pages_and_retries(
    beneficiary_app: FastAPI,
    manager: Caller,
    beneficiary_engine: AsyncEngine,
    kobo: tuple[KoboStandIn, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stand_in, server = kobo
    stand_in.faults = ["500", "stall", "ok", "500"]
    import_id, status = await pull(beneficiary_app, manager, server, monkeypatch)
    assert status == "done"
    assert sorted(set(stand_in.calls)) == [0, 10, 20]
    done = (await manager.get(f"/v1/imports/{import_id}")).json()
    assert (done["total"], done["done"], done["refused"]) == (23, 23, 0)
    assert await written(beneficiary_engine) == (23, 23, 46)
    assert await still_kept(beneficiary_engine, "kobo_token_enc") == 0


async def test_a_kobo_server_that_keeps_failing_loses_nothing(
    beneficiary_app: FastAPI,
    manager: Caller,
    beneficiary_engine: AsyncEngine,
    kobo: tuple[KoboStandIn, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stand_in, server = kobo
    stand_in.faults = ["ok", "500", "stall", "500"]
    import_id, status = await pull(
        beneficiary_app, manager, server, monkeypatch, tries=3
    )
    assert status == "failed"
    failed = (await manager.get(f"/v1/imports/{import_id}")).json()
    assert failed["status"] == "failed"
    assert failed["done"] == 10
    assert "start" in failed["error"] or "submission 10" in failed["error"]
    assert await written(beneficiary_engine) == (10, 10, 20)
    r = await manager.post(f"/v1/imports/{import_id}/resume")
    assert r.status_code == 202, r.text
    status = await run_import(
        {"runtime": beneficiary_app.state.runtime}, import_id=import_id
    )
    assert status == "done"
    done = (await manager.get(f"/v1/imports/{import_id}")).json()
    assert (done["done"], done["outcomes"]["beneficiary"]) == (23, {"created": 23})
    assert await written(beneficiary_engine) == (23, 23, 46)


async def test_a_kobo_pull_refuses_unknown_servers_and_bad_tokens(
    beneficiary_app: FastAPI,
    manager: Caller,
    kobo: tuple[KoboStandIn, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, server = kobo
    mapping_id = await make_mapping(manager)
    r = await manager.post(
        "/v1/imports",
        {
            "mapping_id": mapping_id,
            "dry_run": True,
            "kobo": {"server": server, "asset_uid": "aXkqP3mLxR", "token": "t"},
        },
    )
    assert r.status_code == 422, r.text
    import_id, status = await pull(
        beneficiary_app, manager, server, monkeypatch, token="wrong"
    )
    assert status == "failed"
    failed = (await manager.get(f"/v1/imports/{import_id}")).json()
    assert "403" in failed["error"]


async def test_an_import_never_undoes_a_newer_withdrawal(
    beneficiary_app: FastAPI, manager: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """Consent as sync holds it: a submission imported again cannot bring
    back a consent the person withdrew since, and no service is recorded
    for a person without consent to services."""
    mapping_id = await make_mapping(manager)
    first = as_csv([submission(1)])
    await finish(
        beneficiary_app, manager, (await start(manager, mapping_id, first))["id"]
    )
    person_id = str(
        record_id(uuid.UUID(manager.org.id), "person", submission(1)["_uuid"])
    )
    withdrawn = await give_consent(
        manager,
        person_id,
        {"purpose": "services", "granted": False, "form_version": "paper-1"},
    )
    assert withdrawn.status_code in (200, 201), withdrawn.text
    again = await finish(
        beneficiary_app, manager, (await start(manager, mapping_id, first))["id"]
    )
    assert again["refused"] == 0
    consents = (await manager.get(f"/v1/beneficiaries/{person_id}")).json()["consents"]
    assert consents["services"]["granted"] is False

    followup = json.loads(json.dumps(MAPPING))
    followup["name"] = "Kobo: follow-up session"
    followup["spec"].pop("person")
    followup["spec"]["service"]["person"] = "registration_uuid"
    header = [*HEADER, "registration_uuid"]
    row = submission(900, registration_uuid=submission(1)["_uuid"])
    job = await start(
        manager, await make_mapping(manager, followup), as_csv([row], header)
    )
    done = await finish(beneficiary_app, manager, job["id"])
    assert done["refused"] == 1
    assert done["outcomes"]["service_record"] == {"rejected": 1}
    refused = await refusals(manager, job["id"])
    assert "consent" in " ".join(r["reason"] for r in refused).lower(), refused
    assert await count_rows(beneficiary_engine, "service_record") == 1


def test_a_column_is_found_as_kobo_or_odk_names_it() -> None:
    assert lookup({"respondent-sex": "f"}, "respondent/sex") == "f"
    assert lookup({"grp/respondent/sex": " m "}, "respondent/sex") == "m"
    assert lookup({"a/sex": "f", "b/sex": "m"}, "sex") is None  # ambiguous
    assert lookup({"respondent/sex": ""}, "respondent/sex") is None


def test_a_repeat_group_is_refused_not_flattened() -> None:
    spec = MappingSpec.model_validate(MAPPING["spec"])
    row = submission(1, **{"respondent/full_name": [{"x": 1}]})
    sites = Sites(by_pcode={}, by_name={"qadia camp": uuid.uuid4()})
    converted = convert(spec, row, 2, uuid.uuid4(), sites)
    assert converted.person is None
    assert [(r.field, r.row_number) for r in converted.refusals] == [
        ("respondent/full_name", 2)
    ]


def test_a_date_is_read_by_each_mappings_own_formats() -> None:
    """Dates read are remembered by text and formats: one mapping's reading
    of ``03/02/2026`` is never another's, and a refused date stays refused."""
    day_first = MappingSpec.model_validate(MAPPING["spec"])
    month_first = MappingSpec.model_validate(
        {**MAPPING["spec"], "date_formats": ["%m/%d/%Y"]}
    )
    sites = Sites(by_pcode={}, by_name={"qadia camp": uuid.uuid4()})
    organisation = uuid.uuid4()
    row = submission(1, **{"session/date": "03/02/2026"})
    dates = []
    for spec in (day_first, month_first, day_first):
        service = convert(spec, row, 2, organisation, sites).service
        assert service is not None
        dates.append(service.data.service_date.isoformat())
    assert dates == ["2026-02-03", "2026-03-02", "2026-02-03"]
    bad = submission(2, **{"session/date": "31/02/2026"})
    for _ in range(2):
        refused = convert(day_first, bad, 3, organisation, sites).refusals
        assert [r.field for r in refused] == ["session/date"]


def test_a_registration_validated_ahead_is_taken_once() -> None:
    """Each person's registration is validated as the rows are mapped (off
    the event loop); sync takes it once, and validates it anew after that
    (a record applied again alone, after a rollback)."""
    spec = MappingSpec.model_validate(MAPPING["spec"])
    sites = Sites(by_pcode={}, by_name={"qadia camp": uuid.uuid4()})
    rows: list[Row] = [submission(1), submission(2, **{"consent/registration": "no"})]
    good, refused = imports_service._convert(spec, rows, 2, uuid.uuid4(), sites)
    assert good.person is not None
    assert refused.person is not None
    assert refused.person._registration is None  # refused as it is staged
    ahead = good.person._registration
    assert ahead is not None
    assert sync_service.registration(good.person) is ahead
    again = sync_service.registration(good.person)
    assert again is not ahead
    assert again == ahead


FIVE_A_BATCH = imports_service.RunSettings(
    batch_rows=5, kobo_timeout_seconds=1, kobo_tries=1, kobo_backoff_seconds=0
)


async def test_the_stored_file_is_read_once_per_run(
    beneficiary_app: FastAPI, manager: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """The stored export (the whole file, encrypted) is read when a run
    starts, not with each batch's lock, each progress line or each poll."""
    runtime = beneficiary_app.state.runtime
    job = await start(
        manager, await make_mapping(manager), as_csv([submission(n) for n in range(20)])
    )
    settings = FIVE_A_BATCH
    reads: list[str] = []

    def watch(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "source_enc" in statement:
            reads.append(statement)

    async def poll(job_row: Any) -> None:
        r = await manager.get(f"/v1/imports/{job['id']}")
        assert r.status_code == 200, r.text

    sync_engine = runtime.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", watch)
    try:
        status = await run_once(runtime, settings, job["id"], progress=poll)
    finally:
        event.remove(sync_engine, "before_cursor_execute", watch)
    assert status == "done"
    assert len(reads) == 1, reads
    assert await written(beneficiary_engine) == (20, 20, 40)
    assert await still_kept(beneficiary_engine, "source_enc") == 0


async def run_once(
    runtime: Any,
    settings: imports_service.RunSettings,
    import_id: str,
    progress: imports_service.Progress | None = None,
) -> ImportStatus | None:
    """One run of an import in this process, with the app's runtime."""
    return await imports_service.run_import(
        runtime.engine,
        runtime.keyring,
        runtime.queue,
        runtime.http,
        settings,
        uuid.UUID(import_id),
        progress=progress,
    )


async def test_the_next_batch_is_converted_while_one_is_written(
    beneficiary_app: FastAPI,
    manager: Caller,
    beneficiary_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading and mapping a batch's rows needs no database: the run does it
    for the next batch while the current one is written, begun once the
    current one's people are staged (so that it fills PostgreSQL's wait, not
    the staging's CPU), and each row is still written once, in order. A
    batch with nothing to stage (all unchanged) still leads to the next."""
    import threading

    runtime = beneficiary_app.state.runtime
    mapping_id = await make_mapping(manager)
    content = as_csv([submission(n) for n in range(15)])
    job = await start(manager, mapping_id, content)
    converted: list[int] = []
    next_converted = threading.Event()
    convert = mapping.convert
    stage_registration = beneficiaries_service.stage_registration
    write = bulk.Rows.write
    staged_before_next: list[int] = []
    staged = 0
    ahead: list[bool] = []

    def watch_convert(spec: Any, row: Any, row_number: int, *args: Any) -> Any:
        converted.append(row_number)
        if row_number == 7:  # the next batch's first row (a header, then 5)
            staged_before_next.append(staged)
            next_converted.set()
        return convert(spec, row, row_number, *args)

    async def wait_for_next() -> bool:
        for _ in range(50):
            if next_converted.is_set():
                break
            await asyncio.sleep(0.01)
        return next_converted.is_set()

    async def watch_stage(*args: Any, **kwargs: Any) -> Any:
        nonlocal staged
        if staged == 0:  # time for a conversion begun too early to show
            await wait_for_next()
        staged += 1
        return await stage_registration(*args, **kwargs)

    async def watch_write(rows: bulk.Rows, session: Any) -> None:
        if not ahead:  # the first batch's rows wait for the next's conversion
            ahead.append(await wait_for_next())
        await write(rows, session)

    monkeypatch.setattr(imports_service, "convert", watch_convert)
    monkeypatch.setattr(beneficiaries_service, "stage_registration", watch_stage)
    monkeypatch.setattr(bulk.Rows, "write", watch_write)
    assert await run_once(runtime, FIVE_A_BATCH, job["id"]) == "done"
    assert staged_before_next == [5]  # begun once the first batch was staged
    assert ahead == [True]  # and converted while its rows were written
    assert converted == list(range(2, 17))
    assert await written(beneficiary_engine) == (15, 15, 30)

    again = await start(manager, mapping_id, content)
    run = run_once(runtime, FIVE_A_BATCH, again["id"])
    assert await asyncio.wait_for(run, timeout=30) == "done"
    read = (await manager.get(f"/v1/imports/{again['id']}")).json()
    assert read["done"] == 15
    assert read["outcomes"]["beneficiary"] == {"unchanged": 15}
    assert converted == [*range(2, 17), *range(2, 17)]
    assert await written(beneficiary_engine) == (15, 15, 30)
