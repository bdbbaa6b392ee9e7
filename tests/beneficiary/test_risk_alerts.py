"""Suicide-risk alerts through a real arq worker on Redis to a real local
webhook receiver: delivered and signed, retried after failures, and
dead-lettered (still open and visible) when the receiver never answers."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fastapi import FastAPI

from shared.auth import Role
from tests.beneficiary.alerts import SECRET, Receiver, run_worker, serving, webhook
from tests.beneficiary.api import (
    alerts,
    assess,
    audit_trail,
    open_case,
    phq9,
    positive_item_9,
)


async def test_item_9_alerts_the_supervisor_through_a_signed_webhook(
    beneficiary_app: FastAPI, alice: Any, issue: Any
) -> None:
    receiver = Receiver()
    async with serving(receiver) as url:
        with webhook(beneficiary_app, url):
            case = await positive_item_9(alice)
            [alert] = await alerts(alice)
            assert alert["delivery"] == "pending"
            assert alert["supervisor"] == "sam"
            await run_worker(beneficiary_app)
    assert len(receiver.calls) == 1
    headers, body = receiver.calls[0]
    expected = hmac.new(
        SECRET.encode(),
        headers["x-mhpss-timestamp"].encode() + b"." + body,
        hashlib.sha256,
    ).hexdigest()
    assert headers["x-mhpss-signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["case_id"] == case["id"]
    assert payload["flag"] == "suicide_risk"
    assert "Lost two sons" not in body.decode()
    [delivered] = await alerts(alice)
    assert delivered["delivery"] == "delivered"
    assert delivered["status"] == "open"  # delivery is not acknowledgement

    supervisor = issue(alice.org, Role.supervisor, subject="sam")
    ack = await supervisor.post(
        f"/v1/risk-alerts/{delivered['id']}/acknowledge",
        {"action_taken": "Called her the same hour; safety plan reviewed."},
    )
    assert ack.status_code == 200, ack.text
    assert ack.json()["acknowledged_by"] == "sam"
    assert await alerts(alice) == []
    twice = await supervisor.post(
        f"/v1/risk-alerts/{delivered['id']}/acknowledge", {"action_taken": "again"}
    )
    assert twice.status_code == 409


async def test_a_flag_and_each_list_of_alerts_are_audited_on_the_case(
    beneficiary_app: FastAPI, alice: Any
) -> None:
    """An alert names a person's case: raising it and each listing that
    shows it leave a row on the case, a replayed flag none."""
    with webhook(beneficiary_app, None):
        case = await open_case(alice)
        path = f"/v1/cases/{case['id']}/risk-flags"
        for _ in range(2):
            r = await alice.post(path, {}, headers={"Idempotency-Key": "flag"})
            assert r.status_code == 201, r.text
    assert [a["id"] for a in await alerts(alice)] == [r.json()["id"]]
    trail = await audit_trail(
        beneficiary_app.state.engine, case["id"], not_actions=("create",)
    )
    assert trail == [
        ("risk_flag", "case", case["id"]),
        ("read_alerts", "case", case["id"]),
    ]


async def test_a_receiver_failing_twice_gets_the_alert_on_the_third_try(
    beneficiary_app: FastAPI, alice: Any
) -> None:
    receiver = Receiver(failures=2)
    async with serving(receiver) as url:
        with webhook(beneficiary_app, url):
            await positive_item_9(alice)
            await run_worker(beneficiary_app)
    assert len(receiver.calls) == 3
    attempts = [json.loads(body)["attempt"] for _, body in receiver.calls]
    assert attempts == [1, 2, 3]
    [alert] = await alerts(alice)
    assert (alert["delivery"], alert["attempts"]) == ("delivered", 3)


async def test_a_dead_receiver_dead_letters_the_alert_which_stays_open(
    beneficiary_app: FastAPI, alice: Any
) -> None:
    receiver = Receiver(failures=100)
    async with serving(receiver) as url:
        with webhook(beneficiary_app, url, attempts=3):
            await positive_item_9(alice)
            await run_worker(beneficiary_app)
    assert len(receiver.calls) == 3
    [alert] = await alerts(alice)
    assert alert["delivery"] == "dead_letter"
    assert alert["last_error"] == "HTTP 503"
    assert alert["status"] == "open"


async def test_a_case_workers_flag_raises_an_alert_without_a_webhook(
    beneficiary_app: FastAPI, alice: Any
) -> None:
    with webhook(beneficiary_app, None):
        case = await open_case(alice)
        r = await alice.post(f"/v1/cases/{case['id']}/risk-flags", {})
        assert r.status_code == 201
        await run_worker(beneficiary_app)
    [alert] = await alerts(alice)
    assert alert["source"] == "case_worker"
    assert alert["delivery"] == "not_configured"


async def test_no_alert_when_item_9_is_zero(
    beneficiary_app: FastAPI, alice: Any
) -> None:
    case = await open_case(alice)
    r = await assess(alice, case["id"], "phq9", phq9(3, 3, 3, 3, 3, 3, 3, 3, 0))
    assert r.json()["bands"]["total"] == "severe"
    assert r.json()["risk_flags"] == []
    assert await alerts(alice) == []
