"""Issue 3's promise through the HTTP API: one person from intake through
baseline PHQ-9 and SRQ-20, a risk alert that reaches the supervisor's webhook
through a real arq worker, a referral, two follow-ups and closure, ending with
the computed improvement; the change feed carries scores, never answers."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from shared.auth import Role
from tests.beneficiary.alerts import Receiver, run_worker, serving, webhook
from tests.beneficiary.api import assess, give_consent, open_case, phq9, srq20
from tests.callers import Caller


async def test_intake_to_measured_improvement(
    beneficiary_app: FastAPI, alice: Caller, issue: Any
) -> None:
    receiver = Receiver()
    async with serving(receiver) as url:
        with webhook(beneficiary_app, url):
            case = await open_case(alice, intake_notes="Confidential intake story")
            cid, person = case["id"], case["beneficiary_id"]
            baseline = await assess(alice, cid, "phq9", phq9(3, 3, 2, 2, 2, 2, 2, 2, 1))
            assert baseline.json()["scores"]["total"] == 19.0
            assert baseline.json()["risk_flags"] == ["suicide_risk"]
            srq = await assess(alice, cid, "srq20", srq20(12))
            assert srq.json()["scores"]["total"] == 12.0
            await run_worker(beneficiary_app)
    assert len(receiver.calls) == 1
    assert json.loads(receiver.calls[0][1])["case_id"] == cid

    supervisor = issue(alice.org, Role.supervisor, subject="sam")
    [alert] = (await supervisor.get("/v1/risk-alerts")).json()
    assert alert["delivery"] == "delivered"
    await supervisor.post(
        f"/v1/risk-alerts/{alert['id']}/acknowledge",
        {"action_taken": "Same-day call; safety plan agreed with her sister."},
    )
    safety = await alice.post(
        f"/v1/cases/{cid}/safety-plans",
        {
            "warning_signs": ["not sleeping", "giving things away"],
            "coping_strategies": ["walk with neighbour"],
            "contacts": [{"name": "Sister", "relation": "sister", "phone": "0750"}],
            "means_restriction": ["medicines kept by sister"],
        },
    )
    assert safety.status_code == 201

    plan = await alice.client.put(
        f"/v1/cases/{cid}/plan",
        json={
            "goals": ["sleep through the night"],
            "planned_activities": ["pm_plus_individual"],
        },
        headers=alice.headers(),
    )
    assert plan.status_code == 200
    await alice.post(
        f"/v1/cases/{cid}/transitions",
        {"status": "active", "on": "2026-01-20"},
        headers={"If-Match": '"1"'},
    )
    await give_consent(
        alice,
        person,
        {
            "purpose": "referral",
            "granted": True,
            "form_version": "2024-1",
            "agency": "Legal aid partner",
        },
    )
    referral = await alice.post(
        "/v1/referrals",
        {
            "beneficiary_id": person,
            "case_id": cid,
            "kind": "external",
            "area": "legal",
            "receiving_party": "Legal aid partner",
            "sent_on": "2026-01-21",
        },
    )
    assert referral.status_code == 201, referral.text
    accepted = await alice.post(
        f"/v1/referrals/{referral.json()['id']}/status",
        {"status": "accepted", "on": "2026-01-25", "feedback": "Appointment set"},
        headers={"If-Match": '"1"'},
    )
    assert accepted.json()["status"] == "accepted"

    for day, answers, yes in [
        ("2026-02-20", phq9(2, 2, 1, 1, 1, 1, 1, 1, 0), 7),
        ("2026-03-20", phq9(1, 1, 1, 0, 1, 0, 0, 0, 0), 3),
    ]:
        follow = await alice.post(
            f"/v1/cases/{cid}/follow-ups", {"on": day, "notes": "Doing better"}
        )
        assert follow.status_code == 201, follow.text
        await assess(alice, cid, "phq9", answers, timepoint="follow_up", on=day)
        await assess(alice, cid, "srq20", srq20(yes), timepoint="follow_up", on=day)
    closed = await alice.post(
        f"/v1/cases/{cid}/transitions",
        {"status": "closed", "on": "2026-03-25", "closure_reason": "goals_met"},
        headers={"If-Match": '"2"'},
    )
    assert closed.json()["status"] == "closed"

    outcomes = {
        o["instrument"]: o
        for o in (await alice.get(f"/v1/cases/{cid}/outcomes")).json()
    }
    assert outcomes["phq9@1.0"]["change"] == -15.0
    assert outcomes["phq9@1.0"]["reliable"] is True
    assert outcomes["phq9@1.0"]["latest_band"] == "minimal"
    assert outcomes["srq20@1.0"]["change"] == -9.0

    reader = issue(alice.org, Role.service)
    events = (await reader.get("/v1/events", params={"limit": 5000})).json()["events"]
    types = {e["type"] for e in events}
    assert {
        "case.opened",
        "case.status_changed",
        "assessment.recorded",
        "referral.sent",
        "referral.status_changed",
        "risk_alert.raised",
        "risk_alert.acknowledged",
    } <= types
    follow_ups = [
        e
        for e in events
        if e["type"] == "service_record.recorded"
        and e["data"]["activity_code"] == "case_management_follow_up"
    ]
    assert len(follow_ups) == 2
    dumped = json.dumps(events)
    for secret in (
        "Confidential intake",
        "Doing better",
        "Appointment set",
        "sister",
        "Same-day call",
        '"responses"',
    ):
        assert secret not in dumped
