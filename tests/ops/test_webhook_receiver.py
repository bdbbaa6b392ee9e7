"""A slow, then failing, supervisor webhook in front of the real beneficiary
worker process: the first try outlasts the delivery timeout, the next ones
get a 500; the alert is retried with growing delays, then dead-lettered,
and the dead letter shows in the API (still open) and in /metrics. Once the
receiver is healthy the next alert arrives on its first try.
(tests/beneficiary/test_risk_alerts.py covers signing, retry counts and
dead-lettering in process; this is the same path across real processes,
with a timeout.)"""

from __future__ import annotations

import asyncio
import json
import time
from itertools import pairwise
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse

from shared.auth import Role
from tests.beneficiary.alerts import SECRET, Receiver, serving
from tests.beneficiary.api import alerts, positive_item_9
from tests.callers import Caller
from tests.callers import Org as CallerOrg
from tests.ops.checks import make_org
from tests.ops.harness import Platform

DELIVERY_TIMEOUT = 10.0  # services/beneficiary/webhooks.py: post_signed
BACKOFF = 0.5
ATTEMPTS = 3


class SlowThenFailing(Receiver):
    """Sleeps past the delivery timeout on the first call, answers 500 to
    the next ones, and 200 once ``healthy`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.healthy = False
        self.arrivals: list[float] = []

    async def endpoint(self, request: Request) -> JSONResponse:
        self.arrivals.append(time.monotonic())
        self.calls.append((dict(request.headers), await request.body()))
        if self.healthy:
            return JSONResponse({"ok": True})
        if len(self.calls) == 1:
            await asyncio.sleep(DELIVERY_TIMEOUT + 1)
        return JSONResponse({"error": "receiver broken"}, status_code=500)


def _deliveries(metrics: str) -> dict[str, float]:
    """mhpss_webhook_deliveries of risk alerts, by state."""
    found = {}
    for line in metrics.splitlines():
        if line.startswith("mhpss_webhook_deliveries{") and 'kind="risk_alert"' in line:
            state = line.split('state="')[1].split('"')[0]
            found[state] = float(line.rsplit(" ", 1)[1])
    return found


async def _wait_for(caller: Caller, delivery: str, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        found = [a for a in await alerts(caller) if a["delivery"] == delivery]
        if found:
            return found[0]
        assert time.monotonic() < deadline, await alerts(caller)
        await asyncio.sleep(0.2)


async def test_slow_then_failing_receiver_dead_letters_then_recovers(
    platform: Platform,
) -> None:
    platform.migrate("beneficiary")
    receiver = SlowThenFailing()
    async with serving(receiver) as url:
        webhook = {
            "BENEFICIARY_RISK_WEBHOOK_URL": url,
            "BENEFICIARY_RISK_WEBHOOK_SECRET": SECRET,
            "BENEFICIARY_RISK_WEBHOOK_MAX_ATTEMPTS": str(ATTEMPTS),
            "BENEFICIARY_RISK_WEBHOOK_BACKOFF_SECONDS": str(BACKOFF),
        }
        api = platform.start_api("beneficiary", 0, **webhook)
        platform.start_worker("beneficiary", **webhook)
        await platform.wait_ready()
        assert api.url is not None
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            org = await make_org(platform, client)
            token = org.case_worker["Authorization"].removeprefix("Bearer ")
            alice = Caller(client, token, CallerOrg(org.id, "ops"), "alice")

            raised = time.monotonic()
            first_case = await positive_item_9(alice)
            dead = await _wait_for(alice, "dead_letter", seconds=60)
            dead_after = time.monotonic() - raised
            assert dead["case_id"] == first_case["id"]
            assert (dead["attempts"], dead["last_error"]) == (ATTEMPTS, "HTTP 500")
            assert dead["status"] == "open"  # a dead letter is not closed
            assert len(receiver.calls) == ATTEMPTS
            tries = [json.loads(body)["attempt"] for _, body in receiver.calls]
            assert tries == [1, 2, 3]
            gaps = [b - a for a, b in pairwise(receiver.arrivals)]
            assert gaps[0] >= DELIVERY_TIMEOUT + BACKOFF  # timed out, then waited
            assert gaps[1] >= 2 * BACKOFF  # the delay doubled
            metrics = (await client.get("/metrics")).text
            assert _deliveries(metrics)["dead_letter"] == 1

            receiver.healthy = True
            await positive_item_9(alice)
            delivered = await _wait_for(alice, "delivered", seconds=30)
            assert delivered["attempts"] == 1
            assert len(receiver.calls) == ATTEMPTS + 1
            after = _deliveries((await client.get("/metrics")).text)
            assert (after["dead_letter"], after["delivered"]) == (1, 1)
            supervisor = platform.token(org.id, Role.supervisor, subject="sam")
            listed = await client.get(
                "/v1/risk-alerts", params={"status": "open"}, headers=supervisor
            )
            assert {a["delivery"] for a in listed.json()} == {
                "dead_letter",
                "delivered",
            }
    print(  # noqa: T201
        f"webhook: tries {tries}, gaps {[round(g, 2) for g in gaps]} s, "
        f"dead-lettered {dead_after:.1f} s after the alert; next alert delivered "
        f"on its first try; metrics {after}"
    )
