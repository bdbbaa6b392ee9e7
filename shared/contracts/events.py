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
    CourseApproach,
    CourseLevel,
    DeliveredThrough,
    DeliveryMode,
    DisabilityStatus,
    DisplacementStatus,
    EnrolmentStatus,
    MaritalStatus,
    Modality,
    ProblemArea,
    ReferralArea,
    ReferralKind,
    ReferralStatus,
    RegistrationChannel,
    RiskLevel,
    Sex,
    SupervisionPurpose,
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
    """A page of the change feed; ask again with ``cursor=next_cursor``.

    A feed never ends: ``next_cursor`` is always there (a position to keep
    between pulls), and ``has_more`` false means caught up for now."""

    items: list[EventEnvelope]
    next_cursor: int = Field(
        description="The position to resume after: send it back as `cursor`."
    )
    has_more: bool = Field(
        description="False when the page was short: caught up until new events."
    )


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


class BeneficiaryMergedFacts(_Facts):
    """beneficiary.merged: a supervisor found that two records are one
    person and merged ``beneficiary_id`` into ``merged_into_id``. Everything
    about the merged record (services, cases, referrals, enrolments) now
    belongs to the person kept, who is counted once; the merged id is not
    counted as a person any more. The event may come again (a replay) and
    means the same each time."""

    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID
    merged_into_id: uuid.UUID


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
    group_series_id: uuid.UUID | None = None
    topic_code: str | None = Field(
        default=None,
        description="The first of topic_codes (what readers before them read).",
    )
    topic_codes: list[str] = Field(
        default_factory=list,
        description="What it was about (shared/taxonomy/topics.csv); absent "
        "in events written before them (then topic_code alone says it).",
    )
    language: str | None = Field(default=None, description="ISO 639.")
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
    group_series_id: uuid.UUID | None = None
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


class GroupSeriesFacts(_Facts):
    """group_series.recorded: a group that meets over several sessions,
    with how many it plans (its name stays with the producer)."""

    group_series_id: uuid.UUID
    organisation_id: uuid.UUID
    activity_code: str
    topic_code: str | None
    site_id: uuid.UUID | None
    planned_sessions: int
    starts_on: date
    facilitators: int
    voided: bool = False


class OrganisationParticipants(_Facts):
    """How many of a meeting's participants came from one organisation."""

    organisation_id: uuid.UUID
    participants: int


class GroupActivityFacts(_Facts):
    """group_activity.recorded: one group session or meeting held, as a unit
    (its attendees' services are their own events), with how many attended
    and, when given, how many came from which organisation."""

    group_activity_id: uuid.UUID
    organisation_id: uuid.UUID
    lead_organisation_id: uuid.UUID
    delivered_through: DeliveredThrough
    activity_code: str
    iasc_layer: IascLayer
    activity_date: date
    site_id: uuid.UUID | None
    modality: Modality
    duration_minutes: int | None
    registered_attendees: int
    anonymous_attendees: int
    facilitators: int
    group_series_id: uuid.UUID | None = None
    topic_code: str | None = None
    language: str | None = Field(default=None, description="ISO 639.")
    participants_by_organisation: list[OrganisationParticipants] = Field(
        default_factory=list
    )
    voided: bool = False
    team_id: uuid.UUID | None = Field(
        default=None, description="The team of the organisation that held it."
    )
    delivery_mode: DeliveryMode | None = Field(
        default=None, description="Centre, mobile team or outreach visit."
    )
    project_id: uuid.UUID | None = Field(
        default=None, description="The project it was held under."
    )


class CaseFacts(_Facts):
    """case.opened / case.status_changed / case.updated (its presenting
    problems changed): no notes, no names."""

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
    """risk_alert.raised / risk_alert.acknowledged: no notes, no names.
    The site and dates are absent in events written before they were sent."""

    alert_id: uuid.UUID
    case_id: uuid.UUID | None = Field(
        default=None, description="None for a flag on a person without a case."
    )
    organisation_id: uuid.UUID
    flag: str = Field(description="The risk type (shared/taxonomy/risk_types.csv).")
    source: str
    status: AlertStatus
    site_id: uuid.UUID | None = None
    raised_on: date | None = None
    acknowledged_on: date | None = None


class EnrolmentSession(_Facts):
    """One session of the protocol and the date it was attended (None: not,
    or its service record was voided)."""

    number: int
    attended_on: date | None


class EnrolmentFacts(_Facts):
    """enrolment.updated: progress through the protocol, no names. The
    dates and sessions are absent in events written before they were sent."""

    enrolment_id: uuid.UUID
    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID
    intervention: str
    status: EnrolmentStatus
    sessions_attended: int
    sessions_planned: int
    completed: bool
    enrolled_on: date | None = None
    status_on: date | None = Field(
        default=None, description="The last session's date, or the closure's."
    )
    site_id: uuid.UUID | None = None
    sessions: list[EnrolmentSession] | None = Field(
        default=None, description="Every session of the protocol, in order."
    )
    problem_area: ProblemArea | None = Field(
        default=None, description="IPT's problem area, when recorded."
    )


class TraineeFacts(_Facts):
    """trainee.registered / trainee.updated: who is trained, by audience and
    sex, no PII."""

    trainee_id: uuid.UUID
    organisation_id: uuid.UUID
    audience: TrainingAudience
    sex: Sex
    staff_id: str | None = Field(
        description="The staff code the beneficiary service records as the "
        "service records' staff_id, when the trainee is staff."
    )
    affiliation_organisation_id: uuid.UUID | None = Field(
        default=None,
        description="The organisation the trainee works for (an id of the "
        "beneficiary service's organisation list), when it is on it.",
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
    course_id: uuid.UUID | None = Field(
        default=None, description="Absent in events written before it was sent."
    )
    course_approach: CourseApproach | None = None
    course_level: CourseLevel | None = None
    modality: str | None = Field(
        default=None, description="The cohort's: in_person, online or hybrid."
    )
    site_id: uuid.UUID | None = Field(
        default=None, description="The cohort's site (beneficiary's locations)."
    )
    topic_code: str | None = Field(default=None, description="The session's topic.")
    partner_organisation_id: uuid.UUID | None = Field(
        default=None, description="The cohort's partner organisation."
    )
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
    purpose: SupervisionPurpose = SupervisionPurpose.supervision
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
    group_session_id: uuid.UUID | None = Field(
        default=None,
        description="The beneficiary service's group activity this session "
        "was recorded as: its attendance is counted there, once.",
    )


class MappingFacts(_Facts):
    """mapping_exercise.recorded: which organisations a lead found where."""

    exercise_id: uuid.UUID
    organisation_id: uuid.UUID = Field(description="The lead that mapped.")
    conducted_on: date
    location_id: uuid.UUID | None = None
    mapped_organisation_ids: list[uuid.UUID]


class CapacityFacts(_Facts):
    """capacity_assessment.recorded: domain scores (means of levels 1-4)."""

    assessment_id: uuid.UUID
    organisation_id: uuid.UUID = Field(description="The assessing lead.")
    assessed_organisation_id: uuid.UUID
    tool: str = Field(description="code@version")
    timepoint: str = Field(description="baseline or follow_up")
    assessed_on: date
    domain_scores: dict[str, float]
    mentoring_plan_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = Field(
        default=None, description="The project the assessment was made under."
    )


class SelectionOutcome(_Facts):
    candidate_organisation_id: uuid.UUID
    selected: bool
    score: float = Field(description="Weighted total, 0-100.")
    reason: str | None = Field(default=None, description="A coded reason.")


class SelectionFacts(_Facts):
    """selection_round.decided: every candidate's outcome, score and reason code."""

    round_id: uuid.UUID
    organisation_id: uuid.UUID
    decided_on: date
    outcomes: list[SelectionOutcome]


class MentoringVisitFacts(_Facts):
    """mentoring_visit.recorded: counts only (observations stay in training)."""

    visit_id: uuid.UUID
    plan_id: uuid.UUID
    organisation_id: uuid.UUID
    mentored_organisation_id: uuid.UUID | None = None
    held_on: date
    mode: str
    duration_minutes: int
    participants: int
    action_points: int
    project_id: uuid.UUID | None = Field(
        default=None, description="The project of the mentoring plan."
    )


class ActionPointFacts(_Facts):
    """action_point.updated: an action point's status (no text)."""

    action_point_id: uuid.UUID
    visit_id: uuid.UUID
    plan_id: uuid.UUID
    organisation_id: uuid.UUID
    mentored_organisation_id: uuid.UUID | None = None
    due_on: date
    status: str
    completed_on: date | None = None
    project_id: uuid.UUID | None = Field(
        default=None, description="The project of the mentoring plan."
    )


class NeedsAssessmentFacts(_Facts):
    """needs_assessment.recorded: method, size and coded findings."""

    needs_assessment_id: uuid.UUID
    organisation_id: uuid.UUID
    conducted_on: date
    method: str
    location_id: uuid.UUID | None = None
    sample_size: int
    topics: list[str]


class ProjectTarget(_Facts):
    indicator: str = Field(description="An indicator id of the catalogue.")
    target: float
    dims: dict[str, str] = Field(
        default_factory=dict,
        description="A disaggregation the target is set for, e.g. "
        '{"sex": "female"}; empty: the whole indicator.',
    )


class ProjectFacts(_Facts):
    """project.saved: a project's name, period, organisations and targets
    (the name labels breakdowns by project; the donor is not a fact
    reporting counts; no PII either way)."""

    project_id: uuid.UUID
    name: str | None = Field(
        default=None, description="To label breakdowns (absent before 2026-12)."
    )
    organisation_id: uuid.UUID = Field(description="The lead organisation.")
    partner_organisation_ids: list[uuid.UUID]
    start: date
    end: date
    targets: list[ProjectTarget]
    version: int


class TeamFacts(_Facts):
    """team.saved: a team of an organisation, so reports can name it (a
    unit's name, like an organisation's, is not about a person)."""

    team_id: uuid.UUID
    organisation_id: uuid.UUID
    name: str
    kind: str
    active: bool
    version: int


class MaterialDistributionFacts(_Facts):
    """material_distribution.recorded / .voided: what was handed out at a
    group activity or with a service (item, quantity, language), with the
    delivery columns of that record; never who received it."""

    distribution_id: uuid.UUID
    organisation_id: uuid.UUID
    group_activity_id: uuid.UUID | None = None
    service_record_id: uuid.UUID | None = None
    item_code: str
    quantity: int
    language: str | None = None
    distributed_on: date
    lead_organisation_id: uuid.UUID
    activity_code: str
    site_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    voided: bool = False


class FeedbackFacts(_Facts):
    """feedback_response.recorded: one anonymous response to a feedback form
    (items answered on a 1-5 or yes/no scale, never free text), with where
    and after what it was given; never who gave it."""

    response_id: uuid.UUID
    organisation_id: uuid.UUID
    form: str = Field(description="code@version of shared/taxonomy/feedback.")
    answers: dict[str, bool | int]
    answered_on: date
    lead_organisation_id: uuid.UUID | None = None
    activity_code: str | None = None
    course_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None


class EventType(StrEnum):
    """Every event a producer writes, declared once: the part before the dot
    is the family reporting folds by, the rest what happened."""

    beneficiary_registered = "beneficiary.registered"
    beneficiary_updated = "beneficiary.updated"
    beneficiary_erased = "beneficiary.erased"
    beneficiary_merged = "beneficiary.merged"
    consent_recorded = "consent.recorded"
    service_record_recorded = "service_record.recorded"
    service_record_updated = "service_record.updated"
    service_record_voided = "service_record.voided"
    anonymous_service_recorded = "anonymous_service.recorded"
    group_activity_recorded = "group_activity.recorded"
    group_series_recorded = "group_series.recorded"
    case_opened = "case.opened"
    case_status_changed = "case.status_changed"
    case_updated = "case.updated"
    assessment_recorded = "assessment.recorded"
    referral_sent = "referral.sent"
    referral_status_changed = "referral.status_changed"
    risk_alert_raised = "risk_alert.raised"
    risk_alert_acknowledged = "risk_alert.acknowledged"
    enrolment_updated = "enrolment.updated"
    trainee_registered = "trainee.registered"
    trainee_updated = "trainee.updated"
    trainee_erased = "trainee.erased"
    attendance_recorded = "attendance.recorded"
    training_result_recorded = "training_result.recorded"
    competency_assessed = "competency.assessed"
    supervision_recorded = "supervision.recorded"
    practice_session_recorded = "practice_session.recorded"
    fidelity_review_recorded = "fidelity_review.recorded"
    mapping_exercise_recorded = "mapping_exercise.recorded"
    capacity_assessment_recorded = "capacity_assessment.recorded"
    selection_round_decided = "selection_round.decided"
    needs_assessment_recorded = "needs_assessment.recorded"
    mentoring_visit_recorded = "mentoring_visit.recorded"
    action_point_updated = "action_point.updated"
    project_saved = "project.saved"
    team_saved = "team.saved"
    material_distribution_recorded = "material_distribution.recorded"
    material_distribution_voided = "material_distribution.voided"
    feedback_response_recorded = "feedback_response.recorded"

    @property
    def family(self) -> str:
        return self.value.split(".", 1)[0]


EVENT_FACTS: dict[EventType, type[_Facts]] = {
    EventType.beneficiary_registered: BeneficiaryFacts,
    EventType.beneficiary_updated: BeneficiaryFacts,
    EventType.beneficiary_erased: BeneficiaryErasedFacts,
    EventType.beneficiary_merged: BeneficiaryMergedFacts,
    EventType.consent_recorded: ConsentFacts,
    EventType.service_record_recorded: ServiceRecordFacts,
    EventType.service_record_updated: ServiceRecordFacts,
    EventType.service_record_voided: ServiceRecordFacts,
    EventType.anonymous_service_recorded: AnonymousServiceFacts,
    EventType.group_activity_recorded: GroupActivityFacts,
    EventType.group_series_recorded: GroupSeriesFacts,
    EventType.case_opened: CaseFacts,
    EventType.case_status_changed: CaseFacts,
    EventType.case_updated: CaseFacts,
    EventType.assessment_recorded: AssessmentFacts,
    EventType.referral_sent: ReferralFacts,
    EventType.referral_status_changed: ReferralFacts,
    EventType.risk_alert_raised: RiskAlertFacts,
    EventType.risk_alert_acknowledged: RiskAlertFacts,
    EventType.enrolment_updated: EnrolmentFacts,
    EventType.trainee_registered: TraineeFacts,
    EventType.trainee_updated: TraineeFacts,
    EventType.trainee_erased: TraineeErasedFacts,
    EventType.attendance_recorded: AttendanceFacts,
    EventType.training_result_recorded: ResultFacts,
    EventType.competency_assessed: CompetencyFacts,
    EventType.supervision_recorded: SupervisionFacts,
    EventType.practice_session_recorded: PracticeFacts,
    EventType.fidelity_review_recorded: PracticeFacts,
    EventType.mapping_exercise_recorded: MappingFacts,
    EventType.capacity_assessment_recorded: CapacityFacts,
    EventType.selection_round_decided: SelectionFacts,
    EventType.needs_assessment_recorded: NeedsAssessmentFacts,
    EventType.mentoring_visit_recorded: MentoringVisitFacts,
    EventType.action_point_updated: ActionPointFacts,
    EventType.project_saved: ProjectFacts,
    EventType.team_saved: TeamFacts,
    EventType.material_distribution_recorded: MaterialDistributionFacts,
    EventType.material_distribution_voided: MaterialDistributionFacts,
    EventType.feedback_response_recorded: FeedbackFacts,
}
"""Each event type's payload: ``add_event`` refuses any other, and reporting
validates what it reads with it."""
