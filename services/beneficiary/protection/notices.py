"""Notices to the data protection focal point (a break-the-glass access, an
export under a sharing agreement ...): recorded with the write that caused
them, delivered to their webhook once that write commits, signed, retried with
back-off, dead-lettered after the last try, and always listed in the API.

A notice carries ids, the staff member's subject and non-identifying facts,
never a name, a phone number or free text a person wrote: the receiver is
outside this service (a messaging bridge, a mailbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.audit.service import limited, visible_records
from services.beneficiary.protection.models import NoticeDelivery, ProtectionNotice
from services.beneficiary.settings import settings_of
from services.beneficiary.webhooks import deliver, redeliver
from shared.app import Runtime
from shared.auth import Principal
from shared.pagination import Page, aware_datetime, keyset_page
from shared.queue import JobContext, defer_job


class NoticeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    subject: str
    entity_id: uuid.UUID
    detail: dict[str, Any]
    created_at: datetime
    delivery: NoticeDelivery
    attempts: int
    last_error: str | None
    delivered_at: datetime | None


def raise_notice(
    session: AsyncSession,
    *,
    organisation_id: uuid.UUID,
    kind: str,
    subject: str,
    entity_id: uuid.UUID,
    detail: dict[str, Any],
) -> ProtectionNotice:
    """Record a notice in the caller's transaction; its delivery is sent once
    that transaction commits (call ``send_deferred_jobs`` after it). ``detail``
    must hold no PII."""
    notice = ProtectionNotice(
        organisation_id=organisation_id,
        kind=kind,
        subject=subject,
        entity_id=entity_id,
        detail=detail,
    )
    session.add(notice)
    defer_job(
        session,
        deliver_protection_notice.__name__,
        notice_id=str(notice.id),
        _job_id=f"protection_notice:{notice.id}",
    )
    return notice


async def list_notices(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: str | None,
    delivery: NoticeDelivery | None,
    cursor: str | None,
    limit: int,
) -> Page[ProtectionNotice]:
    """The caller's organisation's notices, newest first. A site-scoped
    caller sees only those about a person or record at their sites (a
    break-the-glass notice names the person; others are organisation-wide)."""
    statement = select(ProtectionNotice).where(
        col(ProtectionNotice.organisation_id) == principal.organisation_id
    )
    if limited(principal):
        statement = statement.where(
            col(ProtectionNotice.entity_id).in_(visible_records(principal))
        )
    if kind is not None:
        statement = statement.where(col(ProtectionNotice.kind) == kind)
    if delivery is not None:
        statement = statement.where(col(ProtectionNotice.delivery) == delivery)
    rows, next_cursor = await keyset_page(
        session,
        statement,
        key=col(ProtectionNotice.created_at),
        parse_key=aware_datetime,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=rows, next_cursor=next_cursor)


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
