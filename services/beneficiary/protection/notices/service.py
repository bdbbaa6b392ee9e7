"""Notices to the data protection focal point (a break-the-glass access, an
export under a sharing agreement ...): recorded with the write that caused
them, delivered to their webhook once that write commits, signed, retried with
back-off, dead-lettered after the last try, and always listed in the API.

A notice carries ids, the staff member's subject and non-identifying facts,
never a name, a phone number or free text a person wrote: the receiver is
outside this service (a messaging bridge, a mailbox)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.audit.service import limited, visible_records
from services.beneficiary.protection.notices.jobs import deliver_protection_notice
from services.beneficiary.protection.notices.models import (
    NoticeDelivery,
    ProtectionNotice,
)
from shared.auth import Principal
from shared.pagination import Page, aware_datetime, keyset_page
from shared.queue import defer_job


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
