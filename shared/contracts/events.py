"""Events on the outbox, the change feed and the queue: facts, never PII.

No names, phone numbers, addresses, free text or exact dates of birth cross a
service boundary; a beneficiary is known to other services only by its
pseudonymous id.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.enums import (
    AgeGroup,
    AlertStatus,
    CaseStatus,
    ClosureReason,
    ConsentPurpose,
    CourseLevel,
    DeliveredThrough,
    DeliveryMode,
    DisabilityStatus,
    DisplacementStatus,
    EnrolmentStatus,
    MaritalStatus,
    Modality,
    ReferralArea,
    ReferralKind,
    ReferralStatus,
    RegistrationChannel,
    RiskLevel,
    Sex,
    Timepoint,
    TrainingAudience,
)
from shared.taxonomy.iasc import IascLayer


class EventEnvelope(BaseModel):
    """One event as the change feed and the queue carry it."""

    id: uuid.UUID
    position: int = Field(description="Feed position; strictly increasing.")
    type: str
    source: str = Field(description="The producing service.")
    organisation_id: uuid.UUID
    entity_id: uuid.UUID
    occurred_at: datetime
    schema_version: int = 1
    data: dict[str, Any]


class EventFeedPage(BaseModel):
    """A page of the change feed; ask again with ``after=next_after``."""

    events: list[EventEnvelope]
    next_after: int = Field(description="The position to resume after.")


class _Facts(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BeneficiaryFacts(_Facts):
    """beneficiary.registered / beneficiary.updated."""

    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None
    sex: Sex
    birth_year: int | None
    marital_status: MaritalStatus | None
    disability: DisabilityStatus
    displacement_status: DisplacementStatus | None
    nationality: str | None
    registration_date: date
    registration_channel: RegistrationChannel
    version: int
    age_at_registration: int | None = Field(
        default=None,
        description="Age in whole years on the registration date (from the "
        "date of birth, which never leaves the service); absent in events "
        "written before it was sent.",
    )


class BeneficiaryErasedFacts(_Facts):
    """beneficiary.erased: the person's PII is gone from the beneficiary
    service (an erasure request or a withdrawal of registration consent).
    Other services drop every link from their data to this id; the event may
    come again (a repeated request, a replay) and means the same each time."""

    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID


class ConsentFacts(_Facts):
    """consent.recorded: which purposes a beneficiary now consents to."""

    beneficiary_id: uuid.UUID
    purpose: ConsentPurpose
    granted: bool


class ServiceRecordFacts(_Facts):
    """service_record.recorded / service_record.updated / service_record.voided."""

    service_record_id: uuid.UUID
    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID = Field(description="Who delivered it.")
    lead_organisation_id: uuid.UUID = Field(
        description="The programme's lead; equals organisation_id when direct."
    )
    delivered_through: DeliveredThrough
    activity_code: str
    iasc_layer: IascLayer
    service_date: date
    site_id: uuid.UUID | None
    modality: Modality
    staff_id: str | None = Field(
        description="The staff code of who delivered it (joins training's "
        "trainees by their staff_id); never a name."
    )
    duration_minutes: int | None
    group_activity_id: uuid.UUID | None
    age_at_service: int | None
    voided: bool
    version: int
    team_id: uuid.UUID | None = Field(
        default=None, description="The team of the organisation that gave it."
    )
    delivery_mode: DeliveryMode | None = Field(
        default=None, description="Centre, mobile team or outreach visit."
    )
    project_id: uuid.UUID | None = Field(
        default=None, description="The project the service was given under."
    )


class AnonymousCount(_Facts):
    sex: Sex | None
    age_group: AgeGroup
    disability: DisabilityStatus
    count: int


class AnonymousServiceFacts(_Facts):
    """anonymous_service.recorded: people served without registration."""

    anonymous_service_id: uuid.UUID
    organisation_id: uuid.UUID
    lead_organisation_id: uuid.UUID
    delivered_through: DeliveredThrough
    activity_code: str
    iasc_layer: IascLayer
    service_date: date
    site_id: uuid.UUID | None
    modality: Modality
    staff_id: str | None = Field(description="The staff code of who delivered it.")
    group_activity_id: uuid.UUID | None
    counts: list[AnonymousCount]
    voided: bool
    team_id: uuid.UUID | None = Field(
        default=None, description="The team of the organisation that gave it."
    )
    delivery_mode: DeliveryMode | None = Field(
        default=None, description="Centre, mobile team or outreach visit."
    )
    project_id: uuid.UUID | None = Field(
        default=None, description="The project the service was given under."
    )


class CaseFacts(_Facts):
    """case.opened / case.status_changed: no notes, no names."""

    case_id: uuid.UUID
    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None
    status: CaseStatus
    risk_level: RiskLevel
    iasc_layer_needed: IascLayer
    presenting_problems: list[str]
    opened_on: date
    closed_on: date | None
    closure_reason: ClosureReason | None
    version: int


class AssessmentFacts(_Facts):
    """assessment.recorded: scores and bands only, never item answers."""

    assessment_id: uuid.UUID
    case_id: uuid.UUID
    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID
    instrument: str
    timepoint: Timepoint
    administered_on: date
    scores: dict[str, float | None]
    bands: dict[str, str | None]
    risk_flagged: bool


class ReferralFacts(_Facts):
    """referral.sent / referral.status_changed: type and outcome, no names."""

    referral_id: uuid.UUID
    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID
    case_id: uuid.UUID | None
    site_id: uuid.UUID | None
    kind: ReferralKind
    area: ReferralArea
    status: ReferralStatus
    sent_on: date
    status_on: date


class RiskAlertFacts(_Facts):
    """risk_alert.raised / risk_alert.acknowledged: no notes, no names."""

    alert_id: uuid.UUID
    case_id: uuid.UUID
    organisation_id: uuid.UUID
    flag: str
    source: str
    status: AlertStatus


class EnrolmentFacts(_Facts):
    """enrolment.updated: progress through the protocol, no names."""

    enrolment_id: uuid.UUID
    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID
    intervention: str
    status: EnrolmentStatus
    sessions_attended: int
    sessions_planned: int
    completed: bool


class TraineeFacts(_Facts):
    """trainee.registered: who is trained, by audience and sex, no PII."""

    trainee_id: uuid.UUID
    organisation_id: uuid.UUID
    audience: TrainingAudience
    sex: Sex
    staff_id: str | None = Field(
        description="The staff code the beneficiary service records as the "
        "service records' staff_id, when the trainee is staff."
    )


class TraineeErasedFacts(_Facts):
    """trainee.erased: the trainee's PII is gone from the training service;
    reporting replaces the trainee's id with a pseudonym it cannot reverse."""

    trainee_id: uuid.UUID
    organisation_id: uuid.UUID


class AttendanceFacts(_Facts):
    """attendance.recorded: one trainee at one session, no PII."""

    cohort_id: uuid.UUID
    session_id: uuid.UUID
    trainee_id: uuid.UUID
    organisation_id: uuid.UUID
    held_on: date
    hours: float
    present: bool
    project_id: uuid.UUID | None = Field(
        default=None, description="The project the cohort was trained under."
    )


class ResultFacts(_Facts):
    """training_result.recorded: completion and certification, no PII."""

    cohort_id: uuid.UUID
    trainee_id: uuid.UUID
    organisation_id: uuid.UUID
    course_id: uuid.UUID
    course_level: CourseLevel
    decided_on: date = Field(description="The date the result was issued.")
    completed: bool
    certified: bool
    pre_test: float | None
    post_test: float | None
    competency_level: int | None = Field(
        description="The overall level of the trainee's latest competency "
        "assessment in the cohort (on the course's tool, if it names one)."
    )
    project_id: uuid.UUID | None = Field(
        default=None, description="The project the cohort was trained under."
    )


class CompetencyFacts(_Facts):
    """competency.assessed: the overall level, never item ratings or notes."""

    assessment_id: uuid.UUID
    trainee_id: uuid.UUID
    organisation_id: uuid.UUID
    cohort_id: uuid.UUID | None
    tool: str = Field(description="code@version")
    mode: str
    context: str = Field(description="pre, post or supervision")
    assessed_on: date
    overall_level: int
    harmful: bool = Field(description="Some item was rated as harmful.")


class SupervisionFacts(_Facts):
    """supervision.recorded: counts and trainee ids only."""

    supervision_id: uuid.UUID
    organisation_id: uuid.UUID
    kind: str
    mode: str
    held_on: date
    duration_minutes: int
    supervisees: int
    supervisee_ids: list[uuid.UUID] = Field(description="Trainee ids.")
    cases_discussed: int


class PracticeFacts(_Facts):
    """practice_session.recorded / fidelity_review.recorded: counts and scores."""

    group_id: uuid.UUID
    session_id: uuid.UUID
    organisation_id: uuid.UUID
    held_on: date
    phase: str
    clients_attended: int
    recorded: bool
    facilitator_ids: list[uuid.UUID] = Field(
        description="The group's facilitators (trainee ids)."
    )
    adherence_score: float | None = None


class ProjectTarget(_Facts):
    indicator: str = Field(description="An indicator id of the catalogue.")
    target: float
    dims: dict[str, str] = Field(
        default_factory=dict,
        description="A disaggregation the target is set for, e.g. "
        '{"sex": "female"}; empty: the whole indicator.',
    )


class ProjectFacts(_Facts):
    """project.saved: a project's period, organisations and targets (its
    name and donor are not facts reporting counts; no PII either way)."""

    project_id: uuid.UUID
    organisation_id: uuid.UUID = Field(description="The lead organisation.")
    partner_organisation_ids: list[uuid.UUID]
    start: date
    end: date
    targets: list[ProjectTarget]
    version: int


class EventType(StrEnum):
    """Every event a producer writes, declared once: the part before the dot
    is the family reporting folds by, the rest what happened."""

    beneficiary_registered = "beneficiary.registered"
    beneficiary_updated = "beneficiary.updated"
    beneficiary_erased = "beneficiary.erased"
    consent_recorded = "consent.recorded"
    service_record_recorded = "service_record.recorded"
    service_record_updated = "service_record.updated"
    service_record_voided = "service_record.voided"
    anonymous_service_recorded = "anonymous_service.recorded"
    case_opened = "case.opened"
    case_status_changed = "case.status_changed"
    assessment_recorded = "assessment.recorded"
    referral_sent = "referral.sent"
    referral_status_changed = "referral.status_changed"
    risk_alert_raised = "risk_alert.raised"
    risk_alert_acknowledged = "risk_alert.acknowledged"
    enrolment_updated = "enrolment.updated"
    trainee_registered = "trainee.registered"
    trainee_erased = "trainee.erased"
    attendance_recorded = "attendance.recorded"
    training_result_recorded = "training_result.recorded"
    competency_assessed = "competency.assessed"
    supervision_recorded = "supervision.recorded"
    practice_session_recorded = "practice_session.recorded"
    fidelity_review_recorded = "fidelity_review.recorded"
    project_saved = "project.saved"

    @property
    def family(self) -> str:
        return self.value.split(".", 1)[0]


EVENT_FACTS: dict[EventType, type[_Facts]] = {
    EventType.beneficiary_registered: BeneficiaryFacts,
    EventType.beneficiary_updated: BeneficiaryFacts,
    EventType.beneficiary_erased: BeneficiaryErasedFacts,
    EventType.consent_recorded: ConsentFacts,
    EventType.service_record_recorded: ServiceRecordFacts,
    EventType.service_record_updated: ServiceRecordFacts,
    EventType.service_record_voided: ServiceRecordFacts,
    EventType.anonymous_service_recorded: AnonymousServiceFacts,
    EventType.case_opened: CaseFacts,
    EventType.case_status_changed: CaseFacts,
    EventType.assessment_recorded: AssessmentFacts,
    EventType.referral_sent: ReferralFacts,
    EventType.referral_status_changed: ReferralFacts,
    EventType.risk_alert_raised: RiskAlertFacts,
    EventType.risk_alert_acknowledged: RiskAlertFacts,
    EventType.enrolment_updated: EnrolmentFacts,
    EventType.trainee_registered: TraineeFacts,
    EventType.trainee_erased: TraineeErasedFacts,
    EventType.attendance_recorded: AttendanceFacts,
    EventType.training_result_recorded: ResultFacts,
    EventType.competency_assessed: CompetencyFacts,
    EventType.supervision_recorded: SupervisionFacts,
    EventType.practice_session_recorded: PracticeFacts,
    EventType.fidelity_review_recorded: PracticeFacts,
    EventType.project_saved: ProjectFacts,
}
"""Each event type's payload: ``add_event`` refuses any other, and reporting
validates what it reads with it."""
