"""Suicide-risk alerts through a real arq worker on Redis to a real local
webhook receiver: delivered and signed, retried after failures, and
dead-lettered (still open and visible) when the receiver never answers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.beneficiary.worker import make_worker
from shared.auth import Role
from tests.beneficiary.test_cases import assess, open_case, phq9

SECRET = "test-webhook-secret"


class Receiver:
    """A webhook endpoint that fails its first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[tuple[dict[str, str], bytes]] = []

    async def endpoint(self, request: Request) -> JSONResponse:
        self.calls.append((dict(request.headers), await request.body()))
        if len(self.calls) <= self.failures:
            return JSONResponse({"error": "down"}, status_code=503)
        return JSONResponse({"ok": True})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[str]:
    port = free_port()
    app = Starlette(routes=[Route("/alerts", receiver.endpoint, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # up to 10 s
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/alerts"
    finally:
        server.should_exit = True
        await task


@contextmanager
def webhook(app: FastAPI, url: str | None, attempts: int = 4) -> Iterator[None]:
    settings = app.state.runtime.settings
    saved = (
        settings.risk_webhook_url,
        settings.risk_webhook_secret,
        settings.risk_webhook_max_attempts,
        settings.risk_webhook_backoff_seconds,
    )
    settings.risk_webhook_url = url
    settings.risk_webhook_secret = SECRET
    settings.risk_webhook_max_attempts = attempts
    settings.risk_webhook_backoff_seconds = 0.05
    try:
        yield
    finally:
        (
            settings.risk_webhook_url,
            settings.risk_webhook_secret,
            settings.risk_webhook_max_attempts,
            settings.risk_webhook_backoff_seconds,
        ) = saved


async def run_worker(app: FastAPI) -> None:
    worker = make_worker(app.state.runtime, burst=True)
    try:
        await asyncio.wait_for(worker.main(), 30)
    finally:
        await worker.close()


async def positive_item_9(alice: Any) -> dict[str, Any]:
    case = await open_case(alice)
    r = await assess(alice, case["id"], "phq9", phq9(1, 1, 0, 0, 0, 0, 0, 0, 1))
    assert r.status_code == 201, r.text
    assert r.json()["risk_flags"] == ["suicide_risk"]
    return case


async def alerts(caller: Any, status: str = "open") -> list[dict[str, Any]]:
    r = await caller.get("/v1/risk-alerts", params={"status": status})
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()["items"]
    return result


async def test_item_9_alerts_the_supervisor_through_a_signed_webhook(
    app: FastAPI, alice: Any, issue: Any
) -> None:
    receiver = Receiver()
    async with serving(receiver) as url:
        with webhook(app, url):
            case = await positive_item_9(alice)
            [alert] = await alerts(alice)
            assert alert["delivery"] == "pending"
            assert alert["supervisor"] == "sam"
            await run_worker(app)
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


async def test_a_receiver_failing_twice_gets_the_alert_on_the_third_try(
    app: FastAPI, alice: Any
) -> None:
    receiver = Receiver(failures=2)
    async with serving(receiver) as url:
        with webhook(app, url):
            await positive_item_9(alice)
            await run_worker(app)
    assert len(receiver.calls) == 3
    attempts = [json.loads(body)["attempt"] for _, body in receiver.calls]
    assert attempts == [1, 2, 3]
    [alert] = await alerts(alice)
    assert (alert["delivery"], alert["attempts"]) == ("delivered", 3)


async def test_a_dead_receiver_dead_letters_the_alert_which_stays_open(
    app: FastAPI, alice: Any
) -> None:
    receiver = Receiver(failures=100)
    async with serving(receiver) as url:
        with webhook(app, url, attempts=3):
            await positive_item_9(alice)
            await run_worker(app)
    assert len(receiver.calls) == 3
    [alert] = await alerts(alice)
    assert alert["delivery"] == "dead_letter"
    assert alert["last_error"] == "HTTP 503"
    assert alert["status"] == "open"


async def test_a_case_workers_flag_raises_an_alert_without_a_webhook(
    app: FastAPI, alice: Any
) -> None:
    with webhook(app, None):
        case = await open_case(alice)
        r = await alice.post(f"/v1/cases/{case['id']}/risk-flags", {})
        assert r.status_code == 201
        await run_worker(app)
    [alert] = await alerts(alice)
    assert alert["source"] == "case_worker"
    assert alert["delivery"] == "not_configured"


async def test_no_alert_when_item_9_is_zero(app: FastAPI, alice: Any) -> None:
    case = await open_case(alice)
    r = await assess(alice, case["id"], "phq9", phq9(3, 3, 3, 3, 3, 3, 3, 3, 0))
    assert r.json()["bands"]["total"] == "severe"
    assert r.json()["risk_flags"] == []
    assert await alerts(alice) == []
