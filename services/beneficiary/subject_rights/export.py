"""The right of access: everything the platform holds about one person, as
JSON and as a document they can be handed. The training service's part
(practice groups the person is a client of) is asked for over HTTP by
pseudonymous id; when training cannot answer, the export is refused with a
503 rather than handed over incomplete."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.audit.models import AuditEntry
from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.beneficiaries.models import Beneficiary
from services.beneficiary.beneficiaries.schemas import BeneficiaryRead
from services.beneficiary.cases import care
from services.beneficiary.cases import service as cases_service
from services.beneficiary.cases.care import FollowUpRead, PlanRead, SafetyPlanRead
from services.beneficiary.cases.models import (
    Assessment,
    Case,
    CasePlan,
    FollowUp,
    SafetyPlan,
)
from services.beneficiary.cases.schemas import AssessmentRead, CaseRead
from services.beneficiary.consent import service as consent_service
from services.beneficiary.consent.schemas import ConsentEntryRead
from services.beneficiary.db import under
from services.beneficiary.feedback.models import FeedbackResponse
from services.beneficiary.feedback.schemas import FeedbackResponseRead
from services.beneficiary.interventions import service as interventions_service
from services.beneficiary.interventions.models import Enrolment
from services.beneficiary.interventions.service import EnrolmentRead
from services.beneficiary.locations.models import Location
from services.beneficiary.materials.models import MaterialDistribution
from services.beneficiary.materials.schemas import MaterialDistributionRead
from services.beneficiary.organisations.models import Organisation
from services.beneficiary.referrals import service as referrals_service
from services.beneficiary.referrals.models import Referral
from services.beneficiary.referrals.service import ReferralRead
from services.beneficiary.risk import service as risk_service
from services.beneficiary.risk.models import RiskAlert
from services.beneficiary.risk.service import AlertRead
from services.beneficiary.service_records.models import ServiceRecord
from services.beneficiary.service_records.schemas import ServiceRecordRead
from services.beneficiary.settings import settings_of
from services.beneficiary.sync import service as sync_service
from services.beneficiary.sync.models import SyncConflict
from shared.app import Runtime
from shared.auth import Principal
from shared.contracts.erasure import ClientParticipation, PracticeGroupParticipation
from shared.crypto import KeyRing
from shared.db import utcnow

RETRY_AFTER_SECONDS = 30


class CaseRecord(BaseModel):
    """A case and everything recorded in it, for the person's own copy."""

    case: CaseRead
    assessments: list[AssessmentRead]
    plans: list[PlanRead] = Field(description="Every version, oldest first.")
    follow_ups: list[FollowUpRead]
    safety_plans: list[SafetyPlanRead] = Field(description="Every version.")


class OfflineVersion(BaseModel):
    """An offline edit of the person's record that lost to a newer version
    and waits for a supervisor: it is a copy of their data too."""

    id: uuid.UUID
    entity_type: str
    submitted_by: str
    created_at: datetime
    status: str
    client_version: dict[str, Any]


class AccessLogEntry(BaseModel):
    """One time someone read or changed this person's records, and why."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    subject: str = Field(description="Who (their account).")
    action: str
    entity_type: str
    entity_id: uuid.UUID
    reason: str | None


class TrainingPart(BaseModel):
    """What the training service holds about the person."""

    included: bool = Field(
        description="False only when this deployment runs no training service."
    )
    practice_groups: list[PracticeGroupParticipation]


class SubjectAccessExport(BaseModel):
    """Everything held about one person, as of ``generated_at``."""

    generated_at: datetime
    generated_by: str
    person: BeneficiaryRead
    consent_ledger: list[ConsentEntryRead]
    service_records: list[ServiceRecordRead]
    materials: list[MaterialDistributionRead] = Field(
        description="Items handed out with the person's services."
    )
    feedback_responses: list[FeedbackResponseRead] = Field(
        description="Answers given on a feedback form after one of the person's "
        "services: anonymous, yet linked to their service."
    )
    cases: list[CaseRecord]
    referrals: list[ReferralRead]
    enrolments: list[EnrolmentRead]
    risk_alerts: list[AlertRead]
    offline_versions: list[OfflineVersion]
    training: TrainingPart
    access_log: list[AccessLogEntry] = Field(
        description="Who read or changed the person's records, when and why "
        "(this export's own entry is added after it was made)."
    )


async def training_part(
    runtime: Runtime, principal: Principal, beneficiary_id: uuid.UUID
) -> TrainingPart:
    """The training service's data about the person, asked for with a
    machine token of the caller's organisation; 503 when it cannot answer."""
    training = settings_of(runtime).training
    if training is None:
        return TrainingPart(included=False, practice_groups=[])
    found = await training.get(
        runtime,
        f"/v1/practice-clients/{beneficiary_id}",
        ClientParticipation,
        organisation_id=principal.organisation_id,
        retry_after=RETRY_AFTER_SECONDS,
    )
    return TrainingPart(included=True, practice_groups=found.practice_groups)


async def export_person(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    beneficiary: Beneficiary,
    training: TrainingPart,
) -> SubjectAccessExport:
    """Read every record of the person, decrypted, whichever site or
    partner recorded it."""
    person = beneficiary.id
    records = await _all(
        session,
        select(ServiceRecord)
        .where(under(ServiceRecord.beneficiary_id, beneficiary))
        .order_by(col(ServiceRecord.service_date), col(ServiceRecord.created_at)),
    )
    cases = await _all(
        session,
        select(Case)
        .where(under(Case.beneficiary_id, beneficiary))
        .order_by(col(Case.opened_on)),
    )
    case_records = [await _case_record(session, keyring, case) for case in cases]
    record_ids = [r.id for r in records]
    materials = await _all(
        session,
        select(MaterialDistribution)
        .where(
            col(MaterialDistribution.organisation_id) == beneficiary.organisation_id,
            col(MaterialDistribution.service_record_id).in_(record_ids),
        )
        .order_by(
            col(MaterialDistribution.distributed_on),
            col(MaterialDistribution.created_at),
        ),
    )
    feedback = await _all(
        session,
        select(FeedbackResponse)
        .where(
            col(FeedbackResponse.organisation_id) == beneficiary.organisation_id,
            col(FeedbackResponse.service_record_id).in_(record_ids),
        )
        .order_by(col(FeedbackResponse.answered_on), col(FeedbackResponse.created_at)),
    )
    referrals = await _all(
        session,
        select(Referral)
        .where(under(Referral.beneficiary_id, beneficiary))
        .order_by(col(Referral.sent_on), col(Referral.created_at)),
    )
    enrolments = await _all(
        session,
        select(Enrolment)
        .where(under(Enrolment.beneficiary_id, beneficiary))
        .order_by(col(Enrolment.enrolled_on)),
    )
    alerts = await _all(
        session,
        select(RiskAlert)
        .where(under(RiskAlert.beneficiary_id, beneficiary))
        .order_by(col(RiskAlert.raised_at)),
    )
    owned = {
        person,
        *record_ids,
        *(m.id for m in materials),
        *(f.id for f in feedback),
        *(c.id for c in cases),
        *(r.id for r in referrals),
        *(e.id for e in enrolments),
        *(a.id for a in alerts),
        *(a.id for c in case_records for a in c.assessments),
    }
    conflicts = await _all(
        session,
        select(SyncConflict)
        .where(
            col(SyncConflict.entity_id).in_(owned),
            col(SyncConflict.organisation_id) == beneficiary.organisation_id,
        )
        .order_by(col(SyncConflict.created_at)),
    )
    log = await _all(
        session,
        select(AuditEntry)
        .where(
            col(AuditEntry.entity_id).in_(owned),
            col(AuditEntry.organisation_id) == beneficiary.organisation_id,
        )
        .order_by(col(AuditEntry.at)),
    )
    return SubjectAccessExport(
        generated_at=utcnow(),
        generated_by=principal.subject,
        person=await beneficiaries_service.to_read(
            session, keyring, beneficiary, principal
        ),
        consent_ledger=[
            ConsentEntryRead.model_validate(e)
            for e in await consent_service.list_consent_ledger(session, beneficiary)
        ],
        service_records=[ServiceRecordRead.model_validate(r) for r in records],
        materials=[MaterialDistributionRead.model_validate(m) for m in materials],
        feedback_responses=[FeedbackResponseRead.model_validate(f) for f in feedback],
        cases=case_records,
        referrals=[referrals_service.to_read(r, keyring) for r in referrals],
        enrolments=[
            await interventions_service.to_read(session, e) for e in enrolments
        ],
        risk_alerts=[risk_service.to_read(a, keyring) for a in alerts],
        offline_versions=[_offline(c, keyring) for c in conflicts],
        training=training,
        access_log=[AccessLogEntry.model_validate(e) for e in log],
    )


async def _case_record(
    session: AsyncSession, keyring: KeyRing, case: Case
) -> CaseRecord:
    assessments = await _all(
        session,
        select(Assessment)
        .where(under(Assessment.case_id, case))
        .order_by(col(Assessment.administered_on), col(Assessment.created_at)),
    )
    plans = await _all(
        session,
        select(CasePlan)
        .where(under(CasePlan.case_id, case))
        .order_by(col(CasePlan.version)),
    )
    follow_ups = await _all(
        session,
        select(FollowUp)
        .where(under(FollowUp.case_id, case))
        .order_by(col(FollowUp.on), col(FollowUp.created_at)),
    )
    safety = await _all(
        session,
        select(SafetyPlan)
        .where(under(SafetyPlan.case_id, case))
        .order_by(col(SafetyPlan.version)),
    )
    return CaseRecord(
        case=cases_service.to_read(case, keyring),
        assessments=[AssessmentRead.model_validate(a) for a in assessments],
        plans=[care._plan_read(p, keyring) for p in plans],
        follow_ups=[care._follow_up_read(f, keyring) for f in follow_ups],
        safety_plans=[care._safety_read(p, keyring) for p in safety],
    )


def _offline(conflict: SyncConflict, keyring: KeyRing) -> OfflineVersion:
    read = sync_service.conflict_read(conflict, keyring)
    return OfflineVersion(
        id=conflict.id,
        entity_type=conflict.entity_type,
        submitted_by=conflict.submitted_by,
        created_at=conflict.created_at,
        status=str(conflict.status),
        client_version=json.loads(json.dumps(read.client_version, default=str)),
    )


async def _all(session: AsyncSession, statement: Any) -> list[Any]:
    return list((await session.execute(statement)).scalars())


async def names_of(session: AsyncSession, ids: set[str]) -> dict[str, str]:
    """Names of the places and organisations a document mentions by id."""
    wanted = [uuid.UUID(i) for i in ids]
    places = select(col(Location.id), col(Location.name)).where(
        col(Location.id).in_(wanted)
    )
    organisations = select(col(Organisation.id), col(Organisation.name)).where(
        col(Organisation.id).in_(wanted)
    )
    return {
        str(key): name
        for statement in (places, organisations)
        for key, name in (await session.execute(statement)).all()
    }
