"""The right of access: a person's complete record across the beneficiary
and training services, as JSON and as a printable document, for authorised
roles only, with a reason, audited; never an incomplete export."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from shared.auth import Role
from shared.i18n import catalogue
from tests.beneficiary.api import beneficiary_body, record_service
from tests.callers import Caller, Org
from tests.e2e.person import (
    ADDRESS,
    NAME,
    PHONE,
    REASON,
    SISTER_PHONE,
    ok,
    record_person,
)
from tests.training.api import token


async def actions(engine: Any, entity_id: str) -> list[tuple[str, str, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT subject, action, reason FROM audit_entry "
                "WHERE entity_id = :id ORDER BY at"
            ),
            {"id": entity_id},
        )
        return [tuple(r) for r in rows.all()]


async def test_the_export_holds_everything_about_the_person(
    linked_beneficiary: FastAPI,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    training_client: httpx.AsyncClient,
    training_settings: Any,
) -> None:
    trainer = token(training_settings, uuid.UUID(orgs["a"].id), Role.trainer)
    recorded = await record_person(alice, issue, training_client, trainer)
    await ok(
        await alice.post(
            f"/v1/cases/{recorded.case}/follow-ups",
            {"on": "2026-02-27", "notes": "<script>alert('x')</script> & more"},
        ),
        201,
    )
    supervisor = issue(orgs["a"], Role.supervisor, subject="sam")
    path = f"/v1/beneficiaries/{recorded.person}/subject-access"
    response = await supervisor.get(path, headers=REASON)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    found = response.json()

    person = found["person"]
    assert (person["full_name"], person["phone"], person["address"]) == (
        NAME,
        PHONE,
        ADDRESS,
    )
    assert [c["purpose"] for c in found["consent_ledger"]] == [
        "registration",
        "services",
        "referral",
    ]
    records = {r["id"]: r for r in found["service_records"]}
    assert set(recorded.services) < set(records)  # and this test's follow-up
    assert len(records) == 4
    assert records[recorded.services[1]]["void_reason"].startswith("entered twice")
    [case] = found["cases"]
    assert NAME in case["case"]["intake_notes"]
    assert case["assessments"][0]["responses"]["9"] == 1
    assert case["plans"][0]["goals"] == [f"{NAME} sleeps through the night"]
    assert case["safety_plans"][0]["contacts"][0]["phone"] == SISTER_PHONE
    assert [f["notes"] for f in case["follow_ups"]][0] == f"{NAME} is sleeping better."
    assert found["referrals"][0]["feedback"] == f"Appointment set for {NAME}"
    assert found["enrolments"][0]["intervention"].startswith("pm_plus")
    assert found["risk_alerts"][0]["action_taken"] == f"Called {NAME} the same day."
    [group] = found["training"]["practice_groups"]
    assert found["training"]["included"] is True
    assert (group["group_id"], group["name"]) == (
        recorded.group,
        "Women's group, Qadia",
    )
    assert [s["attended"] for s in group["sessions"]] == [True]
    assert "facilitator" not in str(group).lower()  # other people's data stays out
    log = {(e["subject"], e["action"]) for e in found["access_log"]}
    assert {("alice", "create"), ("alice", "consent")} <= log
    assert found["generated_by"] == "sam"

    document = await supervisor.get(path, params={"format": "html"}, headers=REASON)
    assert document.status_code == 200
    assert document.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in document.headers["content-security-policy"]
    assert document.headers["cache-control"] == "no-store"
    page = document.text
    for shown in (NAME, PHONE, ADDRESS, SISTER_PHONE, "Women&#39;s group, Qadia"):
        assert shown in page, shown
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in page
    for heading in (
        "Consents given and withdrawn",
        "Cases",
        "Referrals",
        "Training",
        "Who looked at the records",
    ):
        assert f"<h2>{heading}</h2>" in page
    assert document.headers["content-language"] == "en"
    organisation = found["service_records"][0]["organisation_id"]
    assert f">{html.escape(orgs['a'].name)}</" in page
    ids = re.findall(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", page
    )
    assert ids == []
    assert organisation not in page

    sites = (await alice.get("/v1/locations", params={"level": "site"})).json()["items"]
    site, site_name = sites[0]["id"], sites[0]["name"]
    await record_service(alice, recorded.person, site_id=site)
    arabic = await supervisor.get(
        path, params={"format": "html", "lang": "ar"}, headers=REASON
    )
    assert arabic.headers["content-language"] == "ar"
    assert '<html lang="ar" dir="rtl">' in arabic.text
    assert "<h2>الإحالات</h2>" in arabic.text
    assert "<dt>الجنس</dt><dd>أنثى</dd>" in arabic.text
    assert "Subject access" not in arabic.text
    assert f"<td>{html.escape(site_name)}</td>" in arabic.text
    assert site not in arabic.text

    audit = await actions(linked_beneficiary.state.engine, recorded.person)
    assert audit.count(("sam", "subject_access", REASON["X-Access-Reason"])) == 3


async def test_only_a_supervisor_or_manager_with_a_reason_of_the_same_organisation(
    linked_beneficiary: FastAPI,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    training_client: httpx.AsyncClient,
    training_settings: Any,
) -> None:
    trainer = token(training_settings, uuid.UUID(orgs["a"].id), Role.trainer)
    recorded = await record_person(alice, issue, training_client, trainer)
    path = f"/v1/beneficiaries/{recorded.person}/subject-access"
    assert (await alice.get(path, headers=REASON)).status_code == 403
    other = issue(orgs["b"], Role.programme_manager)
    assert (await other.get(path, headers=REASON)).status_code == 404
    manager = issue(orgs["a"], Role.programme_manager, subject="maryam")
    missing = await manager.get(path)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["loc"] == ["header", "X-Access-Reason"]
    blank = await manager.get(path, headers={"X-Access-Reason": "   "})
    assert blank.status_code == 422
    assert (await manager.get(path, headers=REASON)).status_code == 200
    audit = await actions(linked_beneficiary.state.engine, recorded.person)
    assert [a for a in audit if a[1] == "subject_access"] == [
        ("maryam", "subject_access", REASON["X-Access-Reason"])
    ]


async def test_no_export_when_training_cannot_answer(
    beneficiary_app: FastAPI,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
) -> None:
    person = await ok(
        await alice.post(
            "/v1/beneficiaries",
            {
                "full_name": NAME,
                "sex": "female",
                "date_of_birth": "1990-01-01",
                "registration_channel": "outreach",
                "registration_date": "2026-01-10",
                "consents": [
                    {"purpose": "registration", "granted": True, "form_version": "1"}
                ],
            },
        ),
        201,
    )
    path = f"/v1/beneficiaries/{person['id']}/subject-access"
    manager = issue(orgs["a"], Role.programme_manager)
    settings = beneficiary_app.state.runtime.settings
    saved = settings.training_url
    try:
        settings.training_url = "http://127.0.0.1:9/training"  # nothing listens
        down = await manager.get(path, headers=REASON)
        assert down.status_code == 503
        assert int(down.headers["retry-after"]) > 0
        assert down.headers["content-type"].startswith("application/problem+json")
        audit = await actions(beneficiary_app.state.engine, person["id"])
        assert "subject_access" not in {a[1] for a in audit}

        settings.training_url = "http://training"
        runtime = beneficiary_app.state.runtime
        saved_http = runtime.http
        runtime.http = httpx.AsyncClient(
            transport=httpx.MockTransport(
                lambda _: httpx.Response(200, json={"practice_groups": "?"})
            )
        )
        try:  # an answer that is not the contract: as incomplete as none
            nonsense = await manager.get(path, headers=REASON)
        finally:
            runtime.http = saved_http
        assert nonsense.status_code == 503, nonsense.text

        settings.training_url = None  # a deployment without training
        alone = await ok(await manager.get(path, headers=REASON))
        assert alone["training"] == {"included": False, "practice_groups": []}
    finally:
        settings.training_url = saved


async def test_a_trainees_own_record(
    training_client: httpx.AsyncClient,
    training_app: FastAPI,
    training_settings: Any,
) -> None:
    org = uuid.uuid4()
    trainer = token(training_settings, org, Role.trainer)

    async def call(path: str, body: Any, method: str = "POST") -> Any:
        response = await training_client.request(
            method, path, json=body, headers=trainer
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    base = {
        "audience": "ngo",
        "affiliation": "Local NGO",
        "role": "psychosocial worker",
        "profession": "social worker",
        "sex": "female",
    }
    tid = (
        await call(
            "/v1/trainees",
            {**base, "full_name": "Rana Khalil", "phone": "+964 750 000 1234",
             "email": "rana@example.org"},
        )
    )["id"]  # fmt: skip
    other = (await call("/v1/trainees", {**base, "full_name": "Someone Else"}))["id"]
    course = await call(
        "/v1/courses",
        {
            "title": "PFA",
            "approach": "pfa",
            "level": "foundational",
            "planned_hours": 6,
            "criteria": {"min_attendance_share": 0.5},
        },
    )
    cohort = await call(
        "/v1/cohorts",
        {
            "course_id": course["id"],
            "title": "PFA March",
            "starts_on": "2026-03-02",
            "ends_on": "2026-03-02",
            "modality": "in_person",
        },
    )
    await call(f"/v1/cohorts/{cohort['id']}/enrolments", {"trainee_ids": [tid, other]})
    await call(
        f"/v1/cohorts/{cohort['id']}/sessions",
        {"number": 1, "held_on": "2026-03-02", "hours": 6},
    )
    await call(
        f"/v1/cohorts/{cohort['id']}/sessions/1/attendance", {"present": [tid]}, "PUT"
    )
    for supervisees, notes in [([tid], "Her own notes"), ([tid, other], "Shared")]:
        await call(
            "/v1/supervision-sessions",
            {
                "kind": "individual" if len(supervisees) == 1 else "group",
                "mode": "in_person",
                "held_on": "2026-03-09",
                "duration_minutes": 45,
                "supervisee_trainee_ids": supervisees,
                "notes": notes,
            },
        )

    path = f"/v1/trainees/{tid}/subject-access"
    supervisor = token(training_settings, org, Role.supervisor)
    response = await training_client.get(path, headers=supervisor | REASON)
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["trainee"]["full_name"] == "Rana Khalil"
    assert found["trainee"]["email"] == "rana@example.org"
    [record] = found["cohorts"]
    assert (record["title"], record["course"]) == ("PFA March", "PFA")
    assert [s["present"] for s in record["sessions"]] == [True]
    alone, shared = sorted(found["supervision"], key=lambda s: s["other_supervisees"])
    assert (alone["notes"], alone["notes_withheld"]) == ("Her own notes", False)
    assert (shared["notes"], shared["notes_withheld"]) == (None, True)
    assert other not in response.text  # other trainees are counts only
    document = await training_client.get(
        path, params={"format": "html"}, headers=supervisor | REASON
    )
    assert document.status_code == 200
    assert "Rana Khalil" in document.text
    assert "Her own notes" in document.text
    assert "Shared" not in document.text
    assert "<title>Personal data held about Rana Khalil</title>" in document.text
    assert ">Courses attended<" in document.text
    assert ">Foundational<" in document.text  # the course level, in words
    for lang in ("ar", "ckb"):
        words = catalogue(lang)
        translated = await training_client.get(
            path, params={"format": "html", "lang": lang}, headers=supervisor | REASON
        )
        assert translated.headers["content-language"] == lang
        page = translated.text
        assert f'<html lang="{lang}" dir="rtl">' in page
        assert str(words["sar.trainee_title"]).format(name="Rana Khalil") in page
        for key in ("field.cohorts", "field.supervision", "course_level.foundational"):
            assert f">{words[key]}<" in page, key
        for code in (tid, cohort["id"], course["id"], str(org), "foundational"):
            assert code not in page, code  # names and words, never ids or codes
        assert "Her own notes" in page

    assert (
        await training_client.get(path, headers=trainer | REASON)
    ).status_code == 403
    stranger = token(training_settings, uuid.uuid4(), Role.programme_manager)
    assert (
        await training_client.get(path, headers=stranger | REASON)
    ).status_code == 404
    assert (await training_client.get(path, headers=supervisor)).status_code == 422
    audit = await actions(training_app.state.engine, tid)
    assert [a[1:] for a in audit if a[1] == "subject_access"] == [
        ("subject_access", REASON["X-Access-Reason"])
    ] * 4  # JSON, then the document in English, Arabic and Kurdish


async def test_another_organisation_cannot_write_into_who_accessed_your_data(
    linked_beneficiary: FastAPI, alice: Caller, bob: Caller, issue: Any
) -> None:
    """Review issue 12, finding 2: a foreign auditor's filter on your person
    used to land in that person's access log, with the auditor's text."""
    person = (await alice.post("/v1/beneficiaries", beneficiary_body())).json()["id"]
    injected = "Your file was sold; call +964 700 000 0000"
    foreign = issue(bob.org, Role.auditor, subject="mallory")
    for params in ({"beneficiary_id": person}, {"entity_id": person}):
        r = await foreign.get(
            "/v1/audit", params=params, headers={"X-Access-Reason": injected}
        )
        assert r.status_code == 200, r.text
        assert r.json()["items"] == []
    audit = await actions(linked_beneficiary.state.engine, person)
    assert [a for a in audit if a[0] == "mallory"] == []

    supervisor = issue(alice.org, Role.supervisor, subject="sam")
    export = await supervisor.get(
        f"/v1/beneficiaries/{person}/subject-access", headers=REASON
    )
    assert export.status_code == 200, export.text
    assert injected not in export.text
    assert "mallory" not in {e["subject"] for e in export.json()["access_log"]}


async def test_the_export_lists_material_and_feedback_linked_to_the_persons_services(
    linked_beneficiary: FastAPI, alice: Caller, issue: Any, orgs: dict[str, Org]
) -> None:
    """Items handed out with the person's service and the answers given after
    it are held about them: the export lists both, and the document names
    the item, the form and its questions in the reader's language."""
    person = (await alice.post("/v1/beneficiaries", beneficiary_body())).json()["id"]
    service = await record_service(alice, person, service_date="2026-04-02")
    handed = await ok(
        await alice.post(
            "/v1/material-distributions",
            {
                "service_record_id": service["id"],
                "item_code": "school_bag",
                "quantity": 2,
                "language": "ckb",
            },
        ),
        201,
    )
    answered = await ok(
        await alice.post(
            "/v1/feedback-responses",
            {
                "form": "participant_satisfaction@1.0",
                "service_record_id": service["id"],
                "answers": {"overall_satisfied": 4},
            },
        ),
        201,
    )
    supervisor = issue(orgs["a"], Role.supervisor)
    path = f"/v1/beneficiaries/{person}/subject-access"
    export = await ok(await supervisor.get(path, headers=REASON))
    assert [m["id"] for m in export["materials"]] == [handed["id"]]
    assert export["materials"][0]["quantity"] == 2
    assert [f["id"] for f in export["feedback_responses"]] == [answered["id"]]
    assert export["feedback_responses"][0]["answers"] == {"overall_satisfied": 4}

    page = await supervisor.get(
        path, params={"format": "html", "lang": "ar"}, headers=REASON
    )
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    words = catalogue("ar")
    for key in (
        "field.materials",
        "field.feedback_responses",
        "item.school_bag",
        "question.overall_satisfied",
        "form.participant_satisfaction",
        "language.ckb",
    ):
        label = words[key]
        assert isinstance(label, str)
        assert label in text, key
    for code in ("school_bag", "overall_satisfied", "participant_satisfaction"):
        assert code not in text, code
    assert handed["id"] not in text
    assert answered["id"] not in text
