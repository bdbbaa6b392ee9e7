"""Break-the-glass: one person's time-limited access to one beneficiary's
records outside their site scope, never outside their organisation. It takes
a reason, is audited on every use, and raises a notice to the data protection
focal point."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.access import SUPERVISORS
from services.beneficiary.audit.service import limited, visible_records
from services.beneficiary.beneficiaries.models import Beneficiary
from services.beneficiary.protection.grants.models import AccessGrant
from services.beneficiary.protection.grants.schemas import BreakGlass, GrantRead
from services.beneficiary.protection.notices import service as notices
from shared.audit import note_break_glass
from shared.auth import Principal, Role
from shared.db import utcnow
from shared.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from shared.pagination import Page, aware_datetime, keyset_page

BREAK_GLASS_NOTICE = "break_glass"


def to_read(grant: AccessGrant) -> GrantRead:
    return GrantRead(
        id=grant.id,
        subject=grant.subject,
        beneficiary_id=grant.beneficiary_id,
        reason=grant.reason,
        granted_at=grant.granted_at,
        expires_at=grant.expires_at,
        revoked_at=grant.revoked_at,
        active=grant.revoked_at is None and grant.expires_at > utcnow(),
    )


def _active() -> Any:
    return (col(AccessGrant.revoked_at).is_(None)) & (
        col(AccessGrant.expires_at) > utcnow()
    )


async def holds_grant(
    session: AsyncSession, principal: Principal, beneficiary_id: uuid.UUID
) -> bool:
    """The one way past the site scope: an active grant of the caller's, in
    their organisation, for this person. Its use marks the request, so each of
    its audit rows reads ``break-glass: <the grant's reason>``."""
    grant = (
        await session.execute(
            select(AccessGrant)
            .where(
                col(AccessGrant.organisation_id) == principal.organisation_id,
                col(AccessGrant.subject) == principal.subject,
                col(AccessGrant.beneficiary_id) == beneficiary_id,
                _active(),
            )
            .order_by(col(AccessGrant.granted_at).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if grant is None:
        return False
    note_break_glass(session, grant.reason)
    return True


async def granted(session: AsyncSession, principal: Principal, row: Any) -> bool:
    """For a row of the caller's organisation outside their sites (the
    person, or one of their cases, referrals, enrolments, service records,
    alerts): whether a grant opens it."""
    if row.organisation_id != principal.organisation_id:
        return False
    person = row.id if isinstance(row, Beneficiary) else row.beneficiary_id
    return await holds_grant(session, principal, person)


async def listing_scope(
    session: AsyncSession, principal: Principal, beneficiary_id: uuid.UUID | None
) -> Principal:
    """The scope of a list filtered to one person: the caller's own, without
    its site limit while a grant of theirs covers that person (the list still
    shows only that person's records)."""
    if (
        principal.site_ids is None
        or beneficiary_id is None
        or not await holds_grant(session, principal, beneficiary_id)
    ):
        return principal
    return principal.model_copy(update={"site_ids": None})


async def break_glass(
    session: AsyncSession, principal: Principal, data: BreakGlass, max_minutes: int
) -> AccessGrant:
    """Open one person's records to a site-scoped caller for a while, and
    tell the focal point. Another organisation's person is the same 404 as
    nobody; a caller who can see them already needs no grant (409)."""
    if data.minutes > max_minutes:
        raise Invalid(
            f"A grant lasts at most {max_minutes} minutes.",
            errors=[
                FieldError(
                    loc=["body", "minutes"],
                    msg=f"at most {max_minutes}",
                    type="less_than_equal",
                )
            ],
        )
    beneficiary = (
        await session.execute(
            select(Beneficiary).where(
                col(Beneficiary.id) == data.beneficiary_id,
                col(Beneficiary.organisation_id) == principal.organisation_id,
            )
        )
    ).scalar_one_or_none()
    if beneficiary is None:
        raise NotFound("No such beneficiary.")
    if principal.can_see_site(beneficiary.site_id):
        raise Conflict("You can see this person's records already; no grant needed.")
    now = utcnow()
    grant = AccessGrant(
        organisation_id=principal.organisation_id,
        subject=principal.subject,
        beneficiary_id=beneficiary.id,
        reason=data.reason,
        granted_at=now,
        expires_at=now + timedelta(minutes=data.minutes),
    )
    session.add(grant)
    notices.raise_notice(
        session,
        organisation_id=principal.organisation_id,
        kind=BREAK_GLASS_NOTICE,
        subject=principal.subject,
        entity_id=beneficiary.id,
        detail={
            "grant_id": str(grant.id),
            "site_id": str(beneficiary.site_id) if beneficiary.site_id else None,
            "granted_at": grant.granted_at.isoformat(),
            "expires_at": grant.expires_at.isoformat(),
        },
    )
    note_break_glass(session, grant.reason)
    await session.flush()
    return grant


def _visible_grants(principal: Principal) -> Select[AccessGrant]:
    """The caller's organisation's grants; with a site-scoped token, only
    their own and those about people at their sites."""
    statement = select(AccessGrant).where(
        col(AccessGrant.organisation_id) == principal.organisation_id
    )
    if not limited(principal):
        return statement
    return statement.where(
        or_(
            col(AccessGrant.subject) == principal.subject,
            col(AccessGrant.beneficiary_id).in_(visible_records(principal)),
        )
    )


async def revoke_grant(
    session: AsyncSession, principal: Principal, grant_id: uuid.UUID
) -> AccessGrant:
    """End a grant early: its holder when done, or a supervisor or programme
    manager who can see the person."""
    grant = (
        await session.execute(
            _visible_grants(principal)
            .where(col(AccessGrant.id) == grant_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if grant is None:
        raise NotFound("No such grant.")
    if grant.subject != principal.subject and not principal.has_any(
        (*SUPERVISORS, Role.admin)
    ):
        raise Forbidden(
            "Only the grant's holder, a supervisor or a programme manager may end it."
        )
    if grant.revoked_at is not None or grant.expires_at <= utcnow():
        raise Conflict("This grant has ended already.")
    grant.revoked_at = utcnow()
    await session.flush()
    return grant


async def list_grants(
    session: AsyncSession,
    principal: Principal,
    *,
    active: bool | None,
    subject: str | None,
    beneficiary_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Page[AccessGrant]:
    """The organisation's grants, newest first (site scope as in
    ``_visible_grants``)."""
    statement = _visible_grants(principal)
    if active is True:
        statement = statement.where(_active())
    elif active is False:
        statement = statement.where(~_active())
    if subject is not None:
        statement = statement.where(col(AccessGrant.subject) == subject)
    if beneficiary_id is not None:
        statement = statement.where(col(AccessGrant.beneficiary_id) == beneficiary_id)
    rows, next_cursor = await keyset_page(
        session,
        statement,
        key=col(AccessGrant.granted_at),
        parse_key=aware_datetime,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=rows, next_cursor=next_cursor)
