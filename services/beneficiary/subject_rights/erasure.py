"""The one erasure of a person, whatever asked for it: a withdrawal of
registration consent (``consent/``), an erasure request (``service.py``
here) or a retention policy (``protection/retention/``). Every copy of
their PII in this service goes; the record keeps only non-identifying facts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Uuid, and_, delete, literal, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.beneficiaries.models import (
    Beneficiary,
    DuplicateCandidate,
    beneficiary_facts,
    erase_pii,
)
from services.beneficiary.cases.models import (
    Assessment,
    Case,
    CasePlan,
    FollowUp,
    SafetyPlan,
)
from services.beneficiary.db import IdempotencyRecord, OutboxEvent, under
from services.beneficiary.feedback.models import FeedbackResponse
from services.beneficiary.interventions.models import Enrolment
from services.beneficiary.materials.models import MaterialDistribution
from services.beneficiary.referrals.models import Referral
from services.beneficiary.risk.models import RiskAlert
from services.beneficiary.service_records.models import ServiceRecord
from services.beneficiary.sync.models import SyncConflict
from shared.contracts.events import BeneficiaryErasedFacts, EventType
from shared.db import utcnow
from shared.outbox import add_event


async def erase_person(
    session: AsyncSession, beneficiary: Beneficiary, *, announce: bool = True
) -> None:
    """The one erasure of a person, whatever asked for it (withdrawal of
    registration consent, an erasure request, a retention policy): every copy
    of their PII in this service goes and the record keeps only
    non-identifying facts under a new code. With ``announce``,
    ``beneficiary.erased`` tells the other services to drop their links to
    the id (a person's own request); retention does not announce, since the
    non-identifying facts it keeps are what reports need. Running it again
    forgets whatever was added since and announces the erasure again (other
    services ignore a repeat)."""
    await forget_copies(session, beneficiary)
    if beneficiary.pii_erased_at is None:
        erase_pii(beneficiary)
        beneficiary.version += 1
        beneficiary.updated_at = utcnow()
        add_event(
            session,
            OutboxEvent,
            type=EventType.beneficiary_updated,
            organisation_id=beneficiary.organisation_id,
            entity_type="beneficiary",
            entity_id=beneficiary.id,
            facts=beneficiary_facts(beneficiary),
        )
    if not announce:
        return
    add_event(
        session,
        OutboxEvent,
        type=EventType.beneficiary_erased,
        organisation_id=beneficiary.organisation_id,
        entity_type="beneficiary",
        entity_id=beneficiary.id,
        facts=BeneficiaryErasedFacts(
            beneficiary_id=beneficiary.id,
            organisation_id=beneficiary.organisation_id,
        ),
    )


async def forget_copies(session: AsyncSession, beneficiary: Beneficiary) -> None:
    """Erasure reaches every copy of the PII: offline versions kept as sync
    conflicts, the request fingerprints of idempotency records, duplicate
    flags (a pair flagged by name says the two names were alike), the reasons
    given for voiding the person's services, and all free text and raw
    answers of the person's cases (scores, bands, dates and codes stay for
    the counts); also the void reasons of material lines handed out with
    the person's services, and the feedback responses given after one of
    them (anonymous answers, yet linked to the person's service: reporting
    keeps their counts)."""
    person, org = beneficiary.id, beneficiary.organisation_id

    def of_person(model: Any) -> Any:
        return under(model.beneficiary_id, beneficiary)

    def of_cases(model: Any) -> Any:
        return and_(col(model.organisation_id) == org, col(model.case_id).in_(cases))

    cases = select(col(Case.id)).where(of_person(Case))
    records = select(col(ServiceRecord.id)).where(of_person(ServiceRecord))
    await session.execute(
        update(ServiceRecord).where(of_person(ServiceRecord)).values(void_reason=None)
    )
    await session.execute(
        update(MaterialDistribution)
        .where(
            col(MaterialDistribution.organisation_id) == org,
            col(MaterialDistribution.service_record_id).in_(records),
        )
        .values(void_reason=None)
    )
    await session.execute(
        delete(FeedbackResponse).where(
            col(FeedbackResponse.organisation_id) == org,
            col(FeedbackResponse.service_record_id).in_(records),
        )
    )
    await session.execute(
        delete(DuplicateCandidate).where(
            col(DuplicateCandidate.organisation_id) == org,
            or_(
                col(DuplicateCandidate.beneficiary_id) == person,
                col(DuplicateCandidate.candidate_id) == person,
            ),
        )
    )
    owned = union_all(
        select(literal(person, Uuid)),
        cases,
        records,
        select(col(Referral.id)).where(of_person(Referral)),
        select(col(Assessment.id)).where(of_person(Assessment)),
        select(col(RiskAlert.id)).where(of_person(RiskAlert)),
        select(col(Enrolment.id)).where(of_person(Enrolment)),
        select(col(FollowUp.id)).where(of_cases(FollowUp)),
    )
    owned_ids = list((await session.execute(owned)).scalars())
    await session.execute(
        delete(SyncConflict).where(
            col(SyncConflict.organisation_id) == org,
            col(SyncConflict.entity_id).in_(owned_ids),
        )
    )
    await session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.organisation_id) == org,
            col(IdempotencyRecord.resource_id).in_(owned_ids),
        )
    )
    await session.execute(
        update(Case).where(of_person(Case)).values(intake_notes_enc=None)
    )
    await session.execute(delete(CasePlan).where(of_cases(CasePlan)))
    await session.execute(delete(SafetyPlan).where(of_cases(SafetyPlan)))
    await session.execute(
        update(FollowUp).where(of_cases(FollowUp)).values(notes_enc=None)
    )
    await session.execute(
        update(Assessment).where(of_person(Assessment)).values(responses={})
    )
    await session.execute(
        update(Referral).where(of_person(Referral)).values(feedback_enc=None)
    )
    await session.execute(
        update(RiskAlert).where(of_person(RiskAlert)).values(action_taken_enc=None)
    )
