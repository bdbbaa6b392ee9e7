"""Duplicate review and merge. Registration leaves candidate pairs
(``duplicate_candidate``); a supervisor lists those whose two people are both
in their scope and merges one record into the other. The merge keeps
everything: the merged record's services, cases, assessments, referrals,
enrolments and alerts move to the person kept, and its consents join the kept
ledger with a withdrawal always winning over a grant, whichever was newer.
The merged record stays (its own ledger and history) and points at the person
kept; nothing new is written on it. Functions flush; the handler commits.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.beneficiaries.models import (
    Beneficiary,
    DuplicateCandidate,
    beneficiary_facts,
)
from services.beneficiary.cases.models import Assessment, Case
from services.beneficiary.consent import service as consent_service
from services.beneficiary.consent.schemas import ConsentGiven
from services.beneficiary.db import OutboxEvent
from services.beneficiary.duplicates.schemas import DuplicatePair
from services.beneficiary.interventions.models import Enrolment
from services.beneficiary.referrals.models import Referral
from services.beneficiary.risk.models import RiskAlert
from services.beneficiary.service_records import service as records_service
from services.beneficiary.service_records.models import ServiceRecord
from shared.auth import Principal
from shared.contracts.enums import ConsentPurpose
from shared.contracts.events import BeneficiaryMergedFacts, EventType
from shared.crypto import KeyRing
from shared.db import utcnow
from shared.errors import Conflict, FieldError, Invalid, VersionConflict
from shared.outbox import add_event
from shared.pagination import Page, aware_datetime, keyset_page

MOVED: tuple[Any, ...] = (Case, Assessment, Referral, Enrolment, RiskAlert)
"""Rows about a person that follow them into the record kept (service
records move too, each with a new version and event). Break-glass grants
do not: a grant opened one record, not the person it is merged into."""


async def list_pairs(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> Page[DuplicatePair]:
    """Open candidate pairs, newest first: both people in the caller's scope
    (organisation, sites, team) and neither merged or erased yet."""
    other = aliased(Beneficiary)
    open_person = and_(
        col(Beneficiary.merged_into_id).is_(None),
        col(Beneficiary.pii_erased_at).is_(None),
    )
    candidate_visible = exists(
        select(col(other.id))
        .where(
            col(other.organisation_id) == col(DuplicateCandidate.organisation_id),
            col(other.id) == col(DuplicateCandidate.candidate_id),
            col(other.merged_into_id).is_(None),
            col(other.pii_erased_at).is_(None),
            *_in_scope(other, principal),
        )
        .correlate(DuplicateCandidate)
    )
    statement = beneficiaries_service.scoped(
        select(DuplicateCandidate).join(
            Beneficiary,
            and_(
                col(Beneficiary.organisation_id)
                == col(DuplicateCandidate.organisation_id),
                col(Beneficiary.id) == col(DuplicateCandidate.beneficiary_id),
            ),
        ),
        principal,
    ).where(open_person, candidate_visible)
    rows, next_cursor = await keyset_page(
        session,
        statement,
        key=col(DuplicateCandidate.created_at),
        parse_key=aware_datetime,
        cursor=cursor,
        limit=limit,
    )
    return Page(
        items=[DuplicatePair.model_validate(r) for r in rows], next_cursor=next_cursor
    )


def _in_scope(person: Any, principal: Principal) -> list[Any]:
    """``scoped`` for an aliased person (the pair's other side)."""
    rules = [col(person.organisation_id) == principal.organisation_id]
    if principal.site_ids is not None:
        rules.append(col(person.site_id).in_(principal.site_ids))
    if principal.team_id is not None:
        rules.append(col(person.team_id) == principal.team_id)
    return rules


async def merge(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    kept_id: uuid.UUID,
    merged_id: uuid.UUID,
    expected_version: int,
) -> Beneficiary:
    """Merge ``merged_id`` into ``kept_id``, edited on the kept person's
    ``expected_version``: a merge decided on an older copy is a 409, so a
    stale or retried request never undoes what was decided since."""
    if kept_id == merged_id:
        raise Invalid(
            "A person cannot be merged into themselves.",
            errors=[
                FieldError(
                    loc=["body", "duplicate_id"], msg="same person", type="value"
                )
            ],
        )
    people: dict[uuid.UUID, Beneficiary] = {}
    for person_id in sorted((kept_id, merged_id)):  # one lock order: no deadlock
        people[person_id] = await beneficiaries_service.get_beneficiary(
            session, principal, person_id, for_update=True
        )
    kept, merged = people[kept_id], people[merged_id]
    if kept.version != expected_version:
        current = await beneficiaries_service.to_read(session, keyring, kept, principal)
        raise VersionConflict(
            f"You reviewed version {expected_version}; the server has "
            f"version {kept.version}.",
            current=current.model_dump(mode="json"),
        )
    if kept.pii_erased_at is not None or merged.pii_erased_at is not None:
        raise Conflict(
            "One of these people withdrew consent and their identifying data was "
            "erased: an erased record is not merged."
        )
    await _merge_consents(session, principal, kept, merged)
    await _move_records(session, kept, merged)
    now = utcnow()
    merged.merged_into_id = kept.id
    merged.merged_at = now
    merged.version += 1
    merged.updated_at = now
    kept.version += 1
    kept.updated_at = now
    add_event(
        session,
        OutboxEvent,
        type=EventType.beneficiary_updated,
        organisation_id=kept.organisation_id,
        entity_type="beneficiary",
        entity_id=kept.id,
        facts=beneficiary_facts(kept),
    )
    add_event(
        session,
        OutboxEvent,
        type=EventType.beneficiary_merged,
        organisation_id=merged.organisation_id,
        entity_type="beneficiary",
        entity_id=merged.id,
        facts=BeneficiaryMergedFacts(
            beneficiary_id=merged.id,
            organisation_id=merged.organisation_id,
            merged_into_id=kept.id,
        ),
    )
    await session.flush()
    return kept


async def _merge_consents(
    session: AsyncSession,
    principal: Principal,
    kept: Beneficiary,
    merged: Beneficiary,
) -> None:
    """The consents in force of both people, per purpose, on the kept ledger:
    a withdrawal on either side wins (whenever it was recorded), a grant only
    the merged record held is carried over, the kept person's own grant
    stays. Registration is in force on both (neither is erased)."""
    in_force = await consent_service.consents_in_force(
        session, kept.organisation_id, [kept.id, merged.id]
    )
    mine, theirs = in_force[kept.id], in_force[merged.id]
    carried: list[ConsentGiven] = []
    for purpose, entry in theirs.items():
        if purpose == ConsentPurpose.registration:
            continue
        current = mine.get(purpose)
        if entry.granted and current is not None:
            continue  # kept's grant stays; kept's withdrawal wins
        if not entry.granted and current is not None and not current.granted:
            continue  # withdrawn on both
        carried.append(
            ConsentGiven(
                purpose=purpose,
                granted=entry.granted,
                form_version=entry.form_version,
                agency=entry.agency,
            )
        )
    if carried:
        await consent_service.record_consents(session, principal, kept, carried)


async def _move_records(
    session: AsyncSession, kept: Beneficiary, merged: Beneficiary
) -> None:
    """Everything about the merged record now names the person kept. Service
    records get a new version (an edit made on the old one is stale) and an
    update event, so every reader of the feed sees whose they are."""
    records = await session.execute(
        select(ServiceRecord)
        .where(
            col(ServiceRecord.organisation_id) == merged.organisation_id,
            col(ServiceRecord.beneficiary_id) == merged.id,
        )
        .order_by(col(ServiceRecord.id))
        .with_for_update()
    )
    now = utcnow()
    for record in records.scalars():
        record.beneficiary_id = kept.id
        record.version += 1
        record.updated_at = now
        records_service.emit_service_record(
            session, record, kept, EventType.service_record_updated
        )
    for model in MOVED:
        await session.execute(
            update(model)
            .where(
                col(model.organisation_id) == merged.organisation_id,
                col(model.beneficiary_id) == merged.id,
            )
            .values(beneficiary_id=kept.id)
        )
