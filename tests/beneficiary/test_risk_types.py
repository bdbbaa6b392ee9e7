"""Risk types beyond suicide: a worker flags harm to others, violence
disclosed or a child-protection concern on a case; each alert follows its
type's rule (who is notified), goes through the same signed webhook, and is
closed by a supervisor's acknowledgement with the action taken."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from shared.taxonomy.activities import risk_types
from tests.beneficiary.alerts import Receiver, run_worker, serving, webhook
from tests.beneficiary.api import (
    alerts,
    break_glass,
    count_rows,
    make_beneficiary,
    open_case,
    withdraw_registration,
)


def test_every_role_a_risk_type_notifies_exists() -> None:
    roles = {r for t in risk_types().values() for r in t.notify_roles}
    assert roles <= {r.value for r in Role}
    assert [c for c, t in risk_types().items() if t.from_assessments] == [
        "suicide_risk"
    ]


async def test_each_risk_type_alerts_whom_its_rule_names(
    beneficiary_app: FastAPI, alice: Any, issue: Any
) -> None:
    receiver = Receiver()
    async with serving(receiver) as url:
        with webhook(beneficiary_app, url):
            case = await open_case(alice)
            for flag in ("harm_to_others", "violence_disclosed", "child_protection"):
                r = await alice.post(
                    f"/v1/cases/{case['id']}/risk-flags", {"flag": flag}
                )
                assert r.status_code == 201, r.text
                assert r.json()["flag"] == flag
            await run_worker(beneficiary_app)
    sent = {p["risk_type"]: p for p in (json.loads(body) for _, body in receiver.calls)}
    assert {t: (p["supervisor"], p["notify_roles"]) for t, p in sent.items()} == {
        "harm_to_others": ("sam", []),
        "violence_disclosed": ("sam", []),
        "child_protection": ("sam", ["programme_manager"]),
    }
    assert all(p["case_id"] == case["id"] for p in sent.values())
    assert "Lost two sons" not in str(receiver.calls)
    listed = {a["flag"]: a for a in await alerts(alice)}
    assert listed["child_protection"]["notify_roles"] == ["programme_manager"]
    assert {a["delivery"] for a in listed.values()} == {"delivered"}

    # the case worker who flagged it cannot close it; a programme manager,
    # the role child protection notifies, can
    worker = await alice.post(
        f"/v1/risk-alerts/{listed['child_protection']['id']}/acknowledge",
        {"action_taken": "Told the supervisor."},
    )
    assert worker.status_code == 403, worker.text
    manager = issue(alice.org, Role.programme_manager, subject="pm-1")
    ack = await manager.post(
        f"/v1/risk-alerts/{listed['child_protection']['id']}/acknowledge",
        {"action_taken": "Referred to the child-protection agency the same day."},
    )
    assert ack.status_code == 200, ack.text
    assert (ack.json()["status"], ack.json()["acknowledged_by"]) == (
        "acknowledged",
        "pm-1",
    )
    assert {a["flag"] for a in await alerts(alice)} == {
        "harm_to_others",
        "violence_disclosed",
    }
    r = await alice.get(
        "/v1/risk-alerts", params={"status": "acknowledged", "flag": "child_protection"}
    )
    assert [a["acknowledged_by"] for a in r.json()["items"]] == ["pm-1"]
    r = await alice.get("/v1/risk-alerts", params={"flag": "harm_to_others"})
    assert [a["flag"] for a in r.json()["items"]] == ["harm_to_others"]
    r = await alice.get("/v1/risk-alerts", params={"flag": "suicide"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["query", "flag"]
    assert "child_protection" in r.text


async def test_an_unknown_risk_type_is_refused_with_the_list_and_nothing_written(
    alice: Any, beneficiary_engine: AsyncEngine
) -> None:
    case = await open_case(alice)
    before = await count_rows(beneficiary_engine, "risk_alert")
    r = await alice.post(f"/v1/cases/{case['id']}/risk-flags", {"flag": "theft"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "child_protection" in r.text
    assert "harm_to_others" in r.text
    assert await count_rows(beneficiary_engine, "risk_alert") == before


async def test_a_person_without_a_case_can_be_flagged(
    beneficiary_app: FastAPI,
    alice: Any,
    issue: Any,
    site_ids: list[str],
    beneficiary_engine: AsyncEngine,
) -> None:
    """A risk seen in a registered person who has no case alerts the
    supervisor the flag names and the roles its type names, through the same
    webhook; site scope and case roles apply; the supervisor acknowledges it."""
    person = await make_beneficiary(alice, site_id=site_ids[0])
    path = f"/v1/beneficiaries/{person['id']}/risk-flags"
    before = await count_rows(beneficiary_engine, "risk_alert")
    refused = {
        "unknown type": {"flag": "theft", "supervisor": "sam"},
        "no supervisor": {"flag": "harm_to_others"},
        "extra field": {"flag": "harm_to_others", "supervisor": "sam", "x": 1},
    }
    for why, body in refused.items():
        r = await alice.post(path, body)
        assert r.status_code == 422, (why, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert "child_protection" in (await alice.post(path, refused["unknown type"])).text
    elsewhere = issue(alice.org, Role.case_worker, sites=[site_ids[1]])
    hidden = await elsewhere.post(path, {"flag": "harm_to_others", "supervisor": "x"})
    assert hidden.status_code == 404, hidden.text
    outreach = issue(alice.org, Role.outreach_worker)
    no_role = await outreach.post(path, {"flag": "harm_to_others", "supervisor": "x"})
    assert no_role.status_code == 403, no_role.text
    assert await count_rows(beneficiary_engine, "risk_alert") == before

    receiver = Receiver()
    async with serving(receiver) as url:
        with webhook(beneficiary_app, url):
            for flag in ("harm_to_others", "child_protection"):
                r = await alice.post(path, {"flag": flag, "supervisor": "rana"})
                assert r.status_code == 201, r.text
                assert (r.json()["case_id"], r.json()["beneficiary_id"]) == (
                    None,
                    person["id"],
                )
            await run_worker(beneficiary_app)
    sent = {p["risk_type"]: p for p in (json.loads(body) for _, body in receiver.calls)}
    assert {t: (p["supervisor"], p["notify_roles"]) for t, p in sent.items()} == {
        "harm_to_others": ("rana", []),
        "child_protection": ("rana", ["programme_manager"]),
    }
    assert all(
        (p["case_id"], p["beneficiary_id"]) == (None, person["id"])
        for p in sent.values()
    )
    assert person["full_name"] not in str(receiver.calls)
    listed = {a["flag"]: a for a in await alerts(alice)}
    assert {a["delivery"] for a in listed.values()} == {"delivered"}
    rana = issue(alice.org, Role.supervisor, subject="rana")
    ack = await rana.post(
        f"/v1/risk-alerts/{listed['harm_to_others']['id']}/acknowledge",
        {"action_taken": "Met the person with the case worker the same day."},
    )
    assert ack.status_code == 200, ack.text
    async with beneficiary_engine.connect() as connection:
        trail = (
            await connection.execute(
                text(
                    "SELECT action, entity_type FROM audit_entry"
                    " WHERE entity_id = CAST(:person AS uuid)"
                    " AND action IN ('risk_flag', 'read_alerts', 'acknowledge_alert')"
                ),
                {"person": person["id"]},
            )
        ).all()
    assert sorted(set(trail)) == [
        ("acknowledge_alert", "beneficiary"),
        ("read_alerts", "beneficiary"),
        ("risk_flag", "beneficiary"),
    ]

    gone = await make_beneficiary(alice, site_id=site_ids[0])
    withdrawn = await withdraw_registration(issue, alice.org, gone["id"])
    assert withdrawn.status_code in (200, 201), withdrawn.text
    before = await count_rows(beneficiary_engine, "risk_alert")
    refused_gone = await alice.post(
        f"/v1/beneficiaries/{gone['id']}/risk-flags",
        {"flag": "harm_to_others", "supervisor": "rana"},
    )
    assert refused_gone.status_code == 409, refused_gone.text
    assert await count_rows(beneficiary_engine, "risk_alert") == before


async def test_a_grant_holders_retried_flag_answers_the_first_alert(
    alice: Any, issue: Any, site_ids: list[str], beneficiary_engine: AsyncEngine
) -> None:
    """A case worker of another site who holds a break-glass grant for the
    person may flag them; their retry with the same Idempotency-Key answers
    the alert already raised, not a 404 that would make the device raise a
    second alert with a new key."""
    person = await make_beneficiary(alice, site_id=site_ids[0])
    lina = issue(alice.org, Role.case_worker, subject="lina", sites=[site_ids[1]])
    granted = await break_glass(lina, person["id"])
    assert granted.status_code == 201, granted.text
    path = f"/v1/beneficiaries/{person['id']}/risk-flags"
    body = {"flag": "harm_to_others", "supervisor": "rana"}
    key = {"Idempotency-Key": "lina-flag-1"}
    first = await lina.post(path, body, headers=key)
    assert first.status_code == 201, first.text
    before = await count_rows(beneficiary_engine, "risk_alert")
    again = await lina.post(path, body, headers=key)
    assert again.status_code in (200, 201), again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert await count_rows(beneficiary_engine, "risk_alert") == before
