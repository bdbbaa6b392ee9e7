"""Delivery of risk alerts to the supervisor's webhook: signed, retried with
back-off, dead-lettered after the last try (and still open in the API)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import httpx
import structlog
from arq.worker import Retry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.risk.models import AlertDelivery, RiskAlert
from services.beneficiary.settings import BeneficiarySettings
from shared.app import Runtime
from shared.db import utcnow
from shared.queue import JobContext

log = structlog.get_logger(__name__)
SIGNATURE_HEADER = "X-MHPSS-Signature"
TIMESTAMP_HEADER = "X-MHPSS-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over ``<timestamp>.<body>``: receivers check it and reject
    stale timestamps, so a captured alert cannot be replayed later."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


async def deliver_risk_alert(ctx: JobContext, *, alert_id: str) -> str:
    """Post one alert; retry with doubling delays until max attempts."""
    runtime: Runtime = ctx["runtime"]
    settings = runtime.settings
    assert isinstance(settings, BeneficiarySettings)
    async with AsyncSession(runtime.engine) as session, session.begin():
        alert = await session.get(RiskAlert, uuid.UUID(alert_id))
        if alert is None or alert.delivery in (
            AlertDelivery.delivered,
            AlertDelivery.dead_letter,
        ):
            return "nothing to do"
        if not settings.risk_webhook_url:
            alert.delivery = AlertDelivery.not_configured
            return "no webhook configured"
        body = json.dumps(
            {
                "alert_id": str(alert.id),
                "flag": alert.flag,
                "source": alert.source,
                "case_id": str(alert.case_id),
                "site_id": str(alert.site_id) if alert.site_id else None,
                "supervisor": alert.supervisor,
                "raised_at": alert.raised_at.isoformat(),
                "attempt": alert.attempts + 1,
            },
            separators=(",", ":"),
        ).encode()
    error = await _post(runtime.http, settings, body)
    retry_in: float | None = None
    async with AsyncSession(runtime.engine) as session, session.begin():
        alert = await session.get(RiskAlert, uuid.UUID(alert_id), with_for_update=True)
        assert alert is not None
        alert.attempts += 1
        if error is None:
            alert.delivery = AlertDelivery.delivered
            alert.delivered_at = utcnow()
            alert.last_error = None
        elif alert.attempts >= settings.risk_webhook_max_attempts:
            alert.delivery = AlertDelivery.dead_letter
            alert.last_error = error[:500]
            log.error("risk_alert_dead_letter", alert_id=alert_id, error=error)
        else:
            alert.last_error = error[:500]
            retry_in = settings.risk_webhook_backoff_seconds * 2 ** (alert.attempts - 1)
        delivery = alert.delivery
    if retry_in is not None:
        log.warning("risk_alert_retry", alert_id=alert_id, in_seconds=retry_in)
        raise Retry(defer=retry_in)
    return str(delivery)


async def _post(
    http: httpx.AsyncClient, settings: BeneficiarySettings, body: bytes
) -> str | None:
    """The error, or None when the receiver took the alert (2xx)."""
    assert settings.risk_webhook_url
    timestamp = str(int(time.time()))
    headers = {"content-type": "application/json", TIMESTAMP_HEADER: timestamp}
    if settings.risk_webhook_secret:
        headers[SIGNATURE_HEADER] = sign(settings.risk_webhook_secret, timestamp, body)
    try:
        response = await http.post(
            settings.risk_webhook_url, content=body, headers=headers, timeout=10
        )
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


async def redeliver_risk_alerts(ctx: JobContext) -> int:
    """Periodic safety net: re-send every alert still pending (a job lost with
    Redis, a worker killed mid-try). Job ids keep one delivery per alert."""
    runtime: Runtime = ctx["runtime"]
    resend = [AlertDelivery.pending]
    if getattr(runtime.settings, "risk_webhook_url", None):
        resend.append(AlertDelivery.not_configured)  # configured since
    async with AsyncSession(runtime.engine) as session, session.begin():
        pending = (
            (
                await session.execute(
                    select(col(RiskAlert.id)).where(col(RiskAlert.delivery).in_(resend))
                )
            )
            .scalars()
            .all()
        )
    for alert_id in pending:
        await runtime.queue.enqueue(
            "deliver_risk_alert",
            job_id=f"risk_alert:{alert_id}",
            alert_id=str(alert_id),
        )
    return len(pending)
