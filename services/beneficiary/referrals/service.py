"""Referrals: sent with the person's consent to that referral, then tracked
(accepted, declined, completed, no response) with the receiver's feedback."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.beneficiaries.schemas import RecordDate
from services.beneficiary.cases import service as cases_service
from services.beneficiary.consent import service as consent_service
from services.beneficiary.db import OutboxEvent
from services.beneficiary.protection.grants import service as grants
from services.beneficiary.referrals.models import Referral
from shared.auth import Principal
from shared.contracts.enums import (
    ConsentPurpose,
    ReferralArea,
    ReferralKind,
    ReferralStatus,
)
from shared.contracts.events import EventType, ReferralFacts
from shared.contracts.text import Text
from shared.crypto import KeyRing
from shared.db import utcnow
from shared.errors import Conflict, FieldError, Invalid, VersionConflict
from shared.outbox import add_event
from shared.pagination import Page, keyset_page
from shared.scoping import get_in_scope

NEXT: dict[ReferralStatus, set[ReferralStatus]] = {
    ReferralStatus.sent: {
        ReferralStatus.accepted,
        ReferralStatus.declined,
        ReferralStatus.no_response,
    },
    ReferralStatus.accepted: {ReferralStatus.completed, ReferralStatus.no_response},
    ReferralStatus.no_response: {ReferralStatus.accepted, ReferralStatus.declined},
    ReferralStatus.declined: set(),
    ReferralStatus.completed: set(),
}


class ReferralCreate(BaseModel):
    """A referral of a person to another service."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "beneficiary_id": "81bb90a8-efe9-49dc-ae33-a9fddce37fce",
                    "kind": "external",
                    "area": "health",
                    "receiving_party": "Duhok PHC mental health unit",
                    "sent_on": "2026-02-03",
                }
            ]
        },
    )

    id: uuid.UUID | None = None
    beneficiary_id: uuid.UUID
    case_id: uuid.UUID | None = None
    kind: ReferralKind
    area: ReferralArea
    receiving_party: Text = Field(min_length=2, max_length=200)
    sent_on: RecordDate


class ReferralUpdate(BaseModel):
    """News of a referral: accepted, declined, completed or no answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "accepted",
                    "on": "2026-01-25",
                    "feedback": "Appointment set",
                }
            ]
        },
        extra="forbid",
    )

    status: ReferralStatus
    on: RecordDate
    feedback: Text | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _not_back_to_sent(self) -> ReferralUpdate:
        if self.status == ReferralStatus.sent:
            raise ValueError("a referral cannot go back to sent")
        return self


class ReferralRead(BaseModel):
    """A referral and what became of it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5a8c1e3f-7b2d-4f9a-8e6c-0d3b5a7f9e12",
                    "beneficiary_id": "81bb90a8-efe9-49dc-ae33-a9fddce37fce",
                    "case_id": "7a1cd4f2-50df-429b-b133-4d4298ce74c9",
                    "kind": "external",
                    "area": "specialised_mental_health",
                    "receiving_party": "Psychiatric outpatient clinic, Al-Jumhuri "
                    "hospital",
                    "status": "accepted",
                    "sent_on": "2026-01-20",
                    "status_on": "2026-01-25",
                    "feedback": "Appointment set",
                    "version": 2,
                    "created_by": "alice",
                    "created_at": "2026-01-20T10:05:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    case_id: uuid.UUID | None
    kind: ReferralKind
    area: ReferralArea
    receiving_party: str
    status: ReferralStatus
    sent_on: date
    status_on: date
    feedback: str | None
    version: int
    created_by: str
    created_at: datetime


async def refer(
    session: AsyncSession, principal: Principal, data: ReferralCreate
) -> Referral:
    """Refer a person who consents to being referred."""
    beneficiary = await beneficiaries_service.lock_consenting(
        session,
        principal,
        data.beneficiary_id,
        ConsentPurpose.registration,
        ConsentPurpose.referral,
    )
    if data.case_id is not None:
        case = await cases_service.get_case(session, principal, data.case_id)
        if case.beneficiary_id != beneficiary.id:
            raise Invalid(
                "The case belongs to someone else.",
                errors=[
                    FieldError(loc=["body", "case_id"], msg="other person", type="case")
                ],
            )
    referral_id = data.id or uuid.uuid4()
    if (
        await session.get(Referral, (principal.organisation_id, referral_id))
        is not None
    ):
        raise Conflict("A referral with this id exists already.")
    referral = Referral(
        id=referral_id,
        organisation_id=principal.organisation_id,
        beneficiary_id=beneficiary.id,
        case_id=data.case_id,
        site_id=beneficiary.site_id,
        kind=data.kind,
        area=data.area,
        receiving_party=data.receiving_party,
        sent_on=data.sent_on,
        status_on=data.sent_on,
        created_by=principal.subject,
    )
    session.add(referral)
    _emit(session, referral, EventType.referral_sent)
    await session.flush()
    return referral


async def get_referral(
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Referral:
    return await get_in_scope(
        session,
        principal,
        Referral,
        referral_id,
        what="referral",
        for_update=for_update,
        beyond_sites=grants.granted,
        team_of=beneficiaries_service.team_of,
    )


async def update_referral(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    referral_id: uuid.UUID,
    data: ReferralUpdate,
    expected_version: int,
) -> Referral:
    """Record the receiver's answer or the outcome; illegal moves are 409."""
    referral = await get_referral(session, principal, referral_id, for_update=True)
    if referral.version != expected_version:
        raise VersionConflict(
            f"You edited version {expected_version}; the server has "
            f"version {referral.version}.",
            current=to_read(referral, keyring).model_dump(mode="json"),
        )
    if data.status not in NEXT[referral.status]:
        allowed = ", ".join(sorted(NEXT[referral.status])) or "none (final)"
        raise Conflict(
            f"A referral cannot go from {referral.status} to {data.status}; "
            f"allowed: {allowed}."
        )
    if data.on < referral.sent_on:
        raise Invalid(
            "The date is before the referral was sent.",
            errors=[FieldError(loc=["body", "on"], msg="before sent_on", type="date")],
        )
    if data.feedback is not None:  # free text: never about an erased person
        await consent_service.require_consent(
            session, referral.organisation_id, [referral.beneficiary_id]
        )
    referral.status = data.status
    referral.status_on = data.on
    if data.feedback is not None:
        referral.feedback_enc = keyring.encrypt(data.feedback, _context(referral.id))
    referral.version += 1
    referral.updated_at = utcnow()
    _emit(session, referral, EventType.referral_status_changed)
    await session.flush()
    return referral


async def list_referrals(
    session: AsyncSession,
    principal: Principal,
    *,
    beneficiary_id: uuid.UUID | None,
    case_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Page[Referral]:
    """Referrals in the caller's scope, the most recently sent first."""
    statement = select(Referral).where(
        col(Referral.organisation_id) == principal.organisation_id
    )
    principal = await grants.listing_scope(session, principal, beneficiary_id)
    if principal.site_ids is not None:
        statement = statement.where(col(Referral.site_id).in_(principal.site_ids))
    statement = beneficiaries_service.in_team(statement, principal, Referral)
    if beneficiary_id is not None:
        statement = statement.where(col(Referral.beneficiary_id) == beneficiary_id)
    if case_id is not None:
        statement = statement.where(col(Referral.case_id) == case_id)
    rows, next_cursor = await keyset_page(
        session,
        statement,
        key=col(Referral.sent_on),
        parse_key=date.fromisoformat,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=rows, next_cursor=next_cursor)


def to_read(referral: Referral, keyring: KeyRing) -> ReferralRead:
    return ReferralRead(
        id=referral.id,
        beneficiary_id=referral.beneficiary_id,
        case_id=referral.case_id,
        kind=referral.kind,
        area=referral.area,
        receiving_party=referral.receiving_party,
        status=referral.status,
        sent_on=referral.sent_on,
        status_on=referral.status_on,
        feedback=keyring.decrypt(referral.feedback_enc, _context(referral.id)),
        version=referral.version,
        created_by=referral.created_by,
        created_at=referral.created_at,
    )


def _context(referral_id: uuid.UUID) -> str:
    return f"referral:{referral_id}:feedback"


def _emit(session: AsyncSession, referral: Referral, event_type: EventType) -> None:
    add_event(
        session,
        OutboxEvent,
        type=event_type,
        organisation_id=referral.organisation_id,
        entity_type="referral",
        entity_id=referral.id,
        facts=ReferralFacts(
            referral_id=referral.id,
            beneficiary_id=referral.beneficiary_id,
            organisation_id=referral.organisation_id,
            case_id=referral.case_id,
            site_id=referral.site_id,
            kind=referral.kind,
            area=referral.area,
            status=referral.status,
            sent_on=referral.sent_on,
            status_on=referral.status_on,
        ),
    )
