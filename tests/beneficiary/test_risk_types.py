"""Risk types beyond suicide: a worker flags harm to others, violence
disclosed or a child-protection concern on a case; each alert follows its
type's rule (who is notified), goes through the same signed webhook, and is
closed by a supervisor's acknowledgement with the action taken."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from shared.taxonomy.activities import risk_types
from tests.beneficiary.alerts import Receiver, run_worker, serving, webhook
from tests.beneficiary.api import alerts, count_rows, open_case


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
