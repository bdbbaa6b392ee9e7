"""Delivery of risk alerts to the supervisor's webhook: signed, retried with
back-off, dead-lettered after the last try (and still open in the API)."""

from __future__ import annotations

from typing import Any

from services.beneficiary.risk.models import RiskAlert
from services.beneficiary.settings import settings_of
from services.beneficiary.webhooks import deliver, redeliver
from shared.app import Runtime
from shared.queue import JobContext


def _payload(alert: RiskAlert) -> dict[str, Any]:
    return {
        "alert_id": str(alert.id),
        "flag": alert.flag,
        "risk_type": alert.flag,
        "source": alert.source,
        "case_id": str(alert.case_id) if alert.case_id else None,
        "beneficiary_id": str(alert.beneficiary_id),
        "site_id": str(alert.site_id) if alert.site_id else None,
        "supervisor": alert.supervisor,
        "notify_roles": list(alert.notify_roles),
        "raised_at": alert.raised_at.isoformat(),
    }


async def deliver_risk_alert(ctx: JobContext, *, alert_id: str) -> str:
    """Post one alert; retry with doubling delays until max attempts."""
    runtime: Runtime = ctx["runtime"]
    settings = settings_of(runtime)
    return await deliver(
        runtime,
        RiskAlert,
        alert_id,
        url=settings.risk_webhook_url,
        secret=settings.risk_webhook_secret,
        max_attempts=settings.risk_webhook_max_attempts,
        backoff_seconds=settings.risk_webhook_backoff_seconds,
        payload=_payload,
    )


async def redeliver_risk_alerts(ctx: JobContext) -> int:
    """Periodic safety net: re-send every alert still pending (a job lost with
    Redis, a worker killed mid-try). Job ids keep one delivery per alert."""
    runtime: Runtime = ctx["runtime"]
    return await redeliver(
        runtime,
        RiskAlert,
        job=deliver_risk_alert.__name__,
        argument="alert_id",
        configured=bool(getattr(runtime.settings, "risk_webhook_url", None)),
    )
