"""Case management, risk and interventions at their edges: alerts reach the
right supervisor and are never lost, erasure reaches case notes, consent and
the one-running-case rule hold, and cases follow the person."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.risk.jobs import redeliver_risk_alerts
from shared.auth import Role
from tests.beneficiary.alerts import Receiver, run_worker, serving, webhook
from tests.beneficiary.api import (
    assess,
    count_rows,
    intake,
    make_beneficiary,
    open_case,
    phq9,
    withdraw_registration,
)
from tests.callers import Caller


async def case_at(caller: Caller, site: str) -> dict[str, Any]:
    person = await make_beneficiary(caller, site_id=site, date_of_birth="1985-01-01")
    r = await caller.post("/v1/cases", intake(person["id"]))
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def test_site_limited_supervisors_see_their_sites_alerts(
    alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    here = await case_at(alice, site_ids[0])
    await alice.post(f"/v1/cases/{here['id']}/risk-flags", {})
    for _ in range(3):
        there = await case_at(alice, site_ids[1])
        await alice.post(f"/v1/cases/{there['id']}/risk-flags", {})
    local = issue(alice.org, Role.supervisor, sites=[site_ids[0]])
    seen = (await local.get("/v1/risk-alerts")).json()
    assert [a["case_id"] for a in seen] == [here["id"]]


async def test_a_lost_alert_job_is_redelivered(
    beneficiary_app: FastAPI, alice: Caller, redis: Redis
) -> None:
    receiver = Receiver()
    async with serving(receiver) as url:
        with webhook(beneficiary_app, None):
            case = await open_case(alice)
            await alice.post(f"/v1/cases/{case['id']}/risk-flags", {})
            await run_worker(beneficiary_app)  # no webhook yet: not_configured
        with webhook(beneficiary_app, url):
            await redis.flushdb()  # and any job Redis held is gone
            assert (
                await redeliver_risk_alerts({"runtime": beneficiary_app.state.runtime})
                == 1
            )
            await run_worker(beneficiary_app)
    assert len(receiver.calls) == 1
    [alert] = (await alice.get("/v1/risk-alerts")).json()
    assert alert["delivery"] == "delivered"


async def test_an_incomplete_form_with_a_suicide_answer_still_alerts(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    case = await open_case(alice)
    answers: dict[str, int] = phq9(1, 1, 1, 1, 1, 1, 1, 1, 3)
    del answers["4"]
    r = await assess(alice, case["id"], "phq9", answers)
    assert r.status_code == 422
    assert "risk alert was raised" in r.json()["detail"]
    assert await count_rows(beneficiary_engine, "assessment") == 0
    [alert] = (await alice.get("/v1/risk-alerts")).json()
    assert alert["source"] == "incomplete_assessment"


async def test_erasure_reaches_case_notes_plans_and_answers(
    alice: Caller, issue: Any, beneficiary_engine: AsyncEngine
) -> None:
    case = await open_case(alice, intake_notes="Private story")
    cid = case["id"]
    await assess(alice, cid, "phq9", phq9(1, 1, 1, 1, 1, 1, 1, 1, 0))
    await alice.post(
        f"/v1/cases/{cid}/safety-plans",
        {"contacts": [{"name": "Brother Ali", "phone": "555"}]},
    )
    await alice.client.put(
        f"/v1/cases/{cid}/plan",
        json={"goals": ["private goal"]},
        headers=alice.headers(),
    )
    await alice.post(f"/v1/cases/{cid}/follow-ups", {"on": "2026-02-01", "notes": "x"})
    r = await withdraw_registration(issue, alice.org, case["beneficiary_id"])
    assert r.status_code == 201
    after = (await alice.get(f"/v1/cases/{cid}")).json()
    assert after["intake_notes"] is None
    assert (await alice.get(f"/v1/cases/{cid}/safety-plans")).json() == []
    assert (await alice.get(f"/v1/cases/{cid}/plan")).status_code == 404
    async with beneficiary_engine.connect() as conn:
        answers = await conn.scalar(text("SELECT responses::text FROM assessment"))
        notes = await conn.scalar(text("SELECT notes_enc FROM follow_up"))
    assert answers == "{}"
    assert notes is None
    outcomes = (await alice.get(f"/v1/cases/{cid}/outcomes")).json()
    assert outcomes[0]["baseline"] == 8.0  # scores stay for the counts


async def test_no_assessment_without_consent_to_services(alice: Caller) -> None:
    case = await open_case(alice)
    await alice.post(
        f"/v1/beneficiaries/{case['beneficiary_id']}/consents",
        [{"purpose": "services", "granted": False, "form_version": "1"}],
    )
    r = await assess(alice, case["id"], "phq9", phq9(0, 0, 0, 0, 0, 0, 0, 0, 0))
    assert r.status_code == 409


async def test_reopening_respects_the_one_running_case_rule(alice: Caller) -> None:
    first = await open_case(alice)
    close = {"status": "closed", "on": "2026-02-01", "closure_reason": "withdrew"}
    await alice.post(
        f"/v1/cases/{first['id']}/transitions", close, headers={"If-Match": '"1"'}
    )
    second = await alice.post(
        "/v1/cases", intake(first["beneficiary_id"], opened_on="2026-02-05")
    )
    assert second.status_code == 201
    reopen = await alice.post(
        f"/v1/cases/{first['id']}/transitions",
        {"status": "active", "on": "2026-02-06"},
        headers={"If-Match": '"2"'},
    )
    assert reopen.status_code == 409
    died = {"status": "closed", "on": "2026-02-07", "closure_reason": "deceased"}
    await alice.post(
        f"/v1/cases/{second.json()['id']}/transitions",
        died,
        headers={"If-Match": '"1"'},
    )
    again = await alice.post(
        f"/v1/cases/{second.json()['id']}/transitions",
        {"status": "active", "on": "2026-02-08"},
        headers={"If-Match": '"2"'},
    )
    assert again.status_code == 409


async def test_a_case_follows_the_person_to_a_new_site(
    alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    case = await case_at(alice, site_ids[0])
    person = (await alice.get(f"/v1/beneficiaries/{case['beneficiary_id']}")).json()
    moved = await alice.patch(
        f"/v1/beneficiaries/{person['id']}",
        {"site_id": site_ids[1]},
        headers={"If-Match": f'"{person["version"]}"'},
    )
    assert moved.status_code == 200
    there = issue(alice.org, Role.case_worker, sites=[site_ids[1]])
    assert (await there.get(f"/v1/cases/{case['id']}")).status_code == 200
    r = await there.post(f"/v1/cases/{case['id']}/follow-ups", {"on": "2026-02-01"})
    assert r.status_code == 201, r.text
    here = issue(alice.org, Role.case_worker, sites=[site_ids[0]])
    assert (await here.get(f"/v1/cases/{case['id']}")).status_code == 404


async def test_follow_up_retry_and_dates(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    case = await open_case(alice)
    body = {"id": str(uuid.uuid4()), "on": "2026-02-01"}
    first = await alice.post(f"/v1/cases/{case['id']}/follow-ups", body)
    again = await alice.post(f"/v1/cases/{case['id']}/follow-ups", body)
    assert again.json()["id"] == first.json()["id"]
    assert await count_rows(beneficiary_engine, "service_record") == 1
    early = await alice.post(f"/v1/cases/{case['id']}/follow-ups", {"on": "2020-01-01"})
    assert early.status_code == 422


async def test_interventions_finish_reentry_and_case_owner(alice: Caller) -> None:
    person = await make_beneficiary(alice)
    other_case = await open_case(alice)
    wrong = await alice.post(
        "/v1/enrolments",
        {
            "beneficiary_id": person["id"],
            "intervention": "pm_plus",
            "case_id": other_case["id"],
            "enrolled_on": "2026-02-01",
        },
    )
    assert wrong.status_code == 422
    enrolment = (
        await alice.post(
            "/v1/enrolments",
            {
                "beneficiary_id": person["id"],
                "intervention": "pm_plus",
                "enrolled_on": "2026-02-01",
            },
        )
    ).json()
    path = f"/v1/enrolments/{enrolment['id']}"
    first = await alice.post(
        f"{path}/sessions", {"session_number": 1, "attended_on": "2026-02-02"}
    )
    records = (
        await alice.get("/v1/service-records", params={"beneficiary_id": person["id"]})
    ).json()["items"]
    await alice.post(
        f"/v1/service-records/{records[0]['id']}/void", {"reason": "wrong day"}
    )
    assert (await alice.get(path)).json()["sessions_attended"] == []
    again = await alice.post(
        f"{path}/sessions", {"session_number": 1, "attended_on": "2026-02-03"}
    )
    assert again.status_code == 200, again.text
    assert first.status_code == 200
    for n, day in [(2, "2026-02-10"), (3, "2026-02-17"), (4, "2026-02-24")]:
        await alice.post(f"{path}/sessions", {"session_number": n, "attended_on": day})
    done = await alice.post(f"{path}/finish", {"on": "2026-03-05"})
    assert (done.json()["status"], done.json()["completed"]) == ("finished", True)
    assert done.json()["follow_up_windows"]
