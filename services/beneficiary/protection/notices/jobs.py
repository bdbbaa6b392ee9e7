"""Delivery of notices to the data protection focal point's webhook: signed,
retried with back-off, dead-lettered after the last try."""

from __future__ import annotations

from typing import Any

from services.beneficiary.protection.notices.models import (
    ProtectionNotice,
)
from services.beneficiary.settings import settings_of
from services.beneficiary.webhooks import deliver, redeliver
from shared.app import Runtime
from shared.queue import JobContext


def _payload(notice: ProtectionNotice) -> dict[str, Any]:
    return {
        "notice_id": str(notice.id),
        "kind": notice.kind,
        "organisation_id": str(notice.organisation_id),
        "subject": notice.subject,
        "entity_id": str(notice.entity_id),
        "detail": notice.detail,
        "created_at": notice.created_at.isoformat(),
    }


async def deliver_protection_notice(ctx: JobContext, notice_id: str) -> str:
    """Post one notice; retry with doubling delays until max attempts."""
    runtime: Runtime = ctx["runtime"]
    settings = settings_of(runtime)
    return await deliver(
        runtime,
        ProtectionNotice,
        notice_id,
        url=settings.dp_webhook_url,
        secret=settings.dp_webhook_secret,
        max_attempts=settings.dp_webhook_max_attempts,
        backoff_seconds=settings.dp_webhook_backoff_seconds,
        payload=_payload,
    )


async def redeliver_protection_notices(ctx: JobContext) -> int:
    """Periodic safety net: re-send every notice still pending (a job lost
    with Redis, a worker killed mid-try), and those left ``not_configured``
    once a webhook is set."""
    runtime: Runtime = ctx["runtime"]
    return await redeliver(
        runtime,
        ProtectionNotice,
        job=deliver_protection_notice.__name__,
        argument="notice_id",
        configured=bool(getattr(runtime.settings, "dp_webhook_url", None)),
    )
