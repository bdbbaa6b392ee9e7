"""Access review: who read or changed which record of the organisation, when,
and why; a person's whole file (their cases, referrals, enrolments, service
records and alerts) in one query."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CompoundSelect, and_, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.audit.models import AuditEntry
from services.beneficiary.beneficiaries.models import Beneficiary
from services.beneficiary.cases.models import Assessment, Case
from services.beneficiary.interventions.models import Enrolment
from services.beneficiary.referrals.models import Referral
from services.beneficiary.risk.models import RiskAlert
from services.beneficiary.service_records.models import (
    AnonymousService,
    GroupActivity,
    ServiceRecord,
)
from shared.audit import BREAK_GLASS
from shared.auth import Principal
from shared.pagination import Page, aware_datetime, keyset_page

PERSON_RECORDS = (Case, Referral, Enrolment, ServiceRecord, RiskAlert)
SITED_RECORDS = (
    Beneficiary,
    *PERSON_RECORDS,
    GroupActivity,
    AnonymousService,
)
"""Everything that sits at a site, so a site-scoped reader's limit applies."""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _in_scope(model: Any, principal: Principal) -> list[Any]:
    conditions = [col(model.organisation_id) == principal.organisation_id]
    if principal.site_ids is not None:
        conditions.append(col(model.site_id).in_(principal.site_ids))
    if principal.team_id is not None:
        if hasattr(model, "team_id"):
            conditions.append(col(model.team_id) == principal.team_id)
        else:  # a record about a person: the team that registered them
            conditions.append(
                col(model.beneficiary_id).in_(
                    select(col(Beneficiary.id)).where(
                        col(Beneficiary.organisation_id) == principal.organisation_id,
                        col(Beneficiary.team_id) == principal.team_id,
                    )
                )
            )
    return conditions


def limited(principal: Principal) -> bool:
    """A token limited to some sites or to a team: it sees only the
    records inside them."""
    return principal.site_ids is not None or principal.team_id is not None


def visible_records(principal: Principal) -> CompoundSelect[tuple[uuid.UUID]]:
    """The ids of the people and records the caller can see (organisation
    and sites), assessments through their case."""
    return union_all(
        *(select(col(m.id)).where(*_in_scope(m, principal)) for m in SITED_RECORDS),
        select(col(Assessment.id))
        .join(
            Case,
            and_(
                col(Case.organisation_id) == col(Assessment.organisation_id),
                col(Case.id) == col(Assessment.case_id),
            ),
        )
        .where(*_in_scope(Case, principal)),
    )


async def visible_ids(
    session: AsyncSession, principal: Principal, ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """Those of ``ids`` the caller can see: an audit row names nothing else
    (a filter may carry another organisation's id)."""
    if not ids:
        return []
    visible = visible_records(principal).subquery()
    found = await session.execute(
        select(visible.c[0]).where(visible.c[0].in_(ids)).distinct()
    )
    return list(found.scalars())


async def list_entries(
    session: AsyncSession,
    principal: Principal,
    *,
    entity_id: uuid.UUID | None,
    beneficiary_id: uuid.UUID | None,
    subject: str | None,
    action: str | None,
    start: datetime | None,
    end: datetime | None,
    break_glass: bool | None,
    cursor: str | None,
    limit: int,
) -> Page[AuditEntry]:
    """The organisation's audit entries, newest first. ``beneficiary_id``
    takes the person's own entries and those of every record of theirs. A
    site-scoped reader sees only entries about people and records at their
    sites (organisation-level entries need an organisation-wide token)."""
    statement = select(AuditEntry).where(
        col(AuditEntry.organisation_id) == principal.organisation_id
    )
    if limited(principal):
        statement = statement.where(
            col(AuditEntry.entity_id).in_(visible_records(principal))
        )
    if entity_id is not None:
        statement = statement.where(col(AuditEntry.entity_id) == entity_id)
    if beneficiary_id is not None:
        statement = statement.where(
            col(AuditEntry.entity_id).in_(
                union_all(
                    select(literal(beneficiary_id)),
                    *(
                        select(col(model.id)).where(
                            col(model.beneficiary_id) == beneficiary_id,
                            col(model.organisation_id) == principal.organisation_id,
                        )
                        for model in PERSON_RECORDS
                    ),
                )
            )
        )
    if subject is not None:
        statement = statement.where(col(AuditEntry.subject) == subject)
    if action is not None:
        statement = statement.where(col(AuditEntry.action) == action)
    if start is not None:
        statement = statement.where(col(AuditEntry.at) >= _aware(start))
    if end is not None:
        statement = statement.where(col(AuditEntry.at) <= _aware(end))
    if break_glass is not None:
        flagged = col(AuditEntry.reason).startswith(BREAK_GLASS)
        statement = statement.where(
            flagged if break_glass else ~flagged | col(AuditEntry.reason).is_(None)
        )
    rows, next_cursor = await keyset_page(
        session,
        statement,
        key=col(AuditEntry.at),
        parse_key=aware_datetime,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=rows, next_cursor=next_cursor)
