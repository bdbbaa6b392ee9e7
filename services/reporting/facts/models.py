"""The read model: one row per fact, folded from the producers' events.

Every fact row keeps the feed ``position`` of the event it was last built
from (an older or repeated event never overwrites a newer one, so ingestion is
idempotent and order-tolerant) and the ``seq`` of the ingestion transaction
that last changed it (query caches load only what changed since they last
looked). Rows are never deleted: a voided or superseded fact has ``alive``
false. No names, phone numbers, addresses or free text: events carry none.

The beneficiary service's ids are unique within an organisation only
(docs/decisions/0006-ids-per-organisation.md), so its facts are unique per
(organisation_id, producer id); the training service's ids are global.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, UniqueConstraint
from sqlmodel import Field

from services.reporting.db import Table
from shared.db import UTCDateTime, utcnow


class _Fact(Table):
    key: int | None = Field(default=None, primary_key=True)
    position: int = Field(default=0, sa_type=BigInteger)
    seq: int = Field(default=0, sa_type=BigInteger, index=True)
    alive: bool = True


class BeneficiaryFact(_Fact, table=True):
    """A registered person's reportable attributes; ``key`` is the dense
    integer that exact distinct counts use."""

    __tablename__ = "beneficiary_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "beneficiary_id"),)

    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    sex: str | None = Field(default=None, max_length=16)
    birth_year: int | None = None
    marital_status: str | None = Field(default=None, max_length=16)
    disability: str | None = Field(default=None, max_length=16)
    displacement_status: str | None = Field(default=None, max_length=16)
    nationality: str | None = Field(
        default=None, max_length=3, description="ISO 3166-1 alpha-3."
    )
    registration_date: date | None = None
    registration_channel: str | None = Field(default=None, max_length=16)
    erased: bool = False
    merged_into: int | None = Field(
        default=None,
        description="Set on a record merged into another person's: the kept "
        "person's key, under which its facts are counted.",
    )
    age_at_registration: int | None = Field(
        default=None,
        description="Age in whole years on the registration date, as the "
        "producer computed it from the date of birth.",
    )


class ServiceFact(_Fact, table=True):
    """One service given to a registered person (``people`` is 1), or one
    demographic line of an anonymous service (``people`` attended).

    Indexed on ``(beneficiary_key, service_date)``: when a person's
    attributes change, the months of their services come from the index
    alone, not from their rows scattered over the table. ``service_date``
    alone is indexed for SQL by period (operators' queries, the benchmark's
    plain GROUP BY baseline); the engine does not need it."""

    __tablename__ = "service_fact"
    __table_args__ = (
        UniqueConstraint("organisation_id", "record_id", "line"),
        Index(
            "ix_service_fact_beneficiary_key_service_date",
            "beneficiary_key",
            "service_date",
        ),
    )

    record_id: uuid.UUID = Field(description="Service record or anonymous service.")
    line: int = Field(default=0, description="Demographic line of an anonymous one.")
    anonymous: bool = False
    beneficiary_key: int | None = None
    organisation_id: uuid.UUID
    lead_organisation_id: uuid.UUID
    delivered_through: str = Field(max_length=16)
    activity_code: str = Field(max_length=64)
    iasc_layer: str = Field(max_length=32)
    service_date: date = Field(index=True)
    site_id: uuid.UUID | None = None
    modality: str = Field(max_length=32)
    staff_id: str | None = Field(default=None, max_length=100)
    duration_minutes: int | None = None
    people: int = 1
    sex: str | None = Field(default=None, max_length=16, description="Anonymous only.")
    age_group: str | None = Field(
        default=None,
        max_length=16,
        description="Anonymous only: a band label like 0_17 (under_18 and "
        "adult in rows written before migration 0006).",
    )
    disability: str | None = Field(default=None, max_length=16)
    age_at_service: int | None = Field(
        default=None,
        description="Registered only: age in whole years on the service date, "
        "as the producer computed it from the date of birth.",
    )
    team_id: uuid.UUID | None = None
    delivery_mode: str | None = Field(default=None, max_length=16)
    project_id: uuid.UUID | None = Field(default=None, index=True)
    series_id: uuid.UUID | None = Field(
        default=None, description="The group series of its group activity."
    )
    group_activity_id: uuid.UUID | None = Field(
        default=None, description="The group activity whose attendance it is."
    )
    topic_code: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=3)


class GroupActivityFact(_Fact, table=True):
    """One group session or meeting held, counted once however many
    attended: a group activity, or an anonymous service of a group
    activity recorded on its own (an awareness session, a coordination
    meeting typed in as counts). ``unit`` is the taxonomy's ``meeting`` or
    ``session``."""

    __tablename__ = "group_activity_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "activity_id"),)

    activity_id: uuid.UUID = Field(
        description="The group activity, or the anonymous service."
    )
    organisation_id: uuid.UUID
    lead_organisation_id: uuid.UUID
    delivered_through: str = Field(max_length=16)
    activity_code: str = Field(max_length=64)
    unit: str = Field(max_length=16)
    iasc_layer: str = Field(max_length=32)
    held_on: date
    site_id: uuid.UUID | None = None
    modality: str = Field(max_length=32)
    duration_minutes: int | None = None
    attendees: int = Field(description="Registered attendees plus anonymous counts.")
    series_id: uuid.UUID | None = Field(
        default=None, description="The group series it is a session of."
    )
    topic_code: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=3)
    team_id: uuid.UUID | None = None
    delivery_mode: str | None = Field(default=None, max_length=16)
    project_id: uuid.UUID | None = None


class MaterialFact(_Fact, table=True):
    """Items handed out: one line (item, quantity, language) on a group
    activity or a service record, with that record's delivery columns;
    ``alive`` false once voided. Nothing about who received them."""

    __tablename__ = "material_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "distribution_id"),)

    distribution_id: uuid.UUID
    organisation_id: uuid.UUID
    item_code: str = Field(max_length=64)
    quantity: int
    language: str | None = Field(default=None, max_length=3)
    distributed_on: date
    lead_organisation_id: uuid.UUID
    activity_code: str = Field(max_length=64)
    site_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None


class FeedbackFact(_Fact, table=True):
    """One item answered in one anonymous feedback response: its rating on
    the 1-5 scale (none for a yes/no item) and whether it counts as
    satisfied (yes, or 4 or 5), with where and after what it was given.
    Participants' responses come from the beneficiary service (an
    activity), trainees' from the training service (a course)."""

    __tablename__ = "feedback_fact"
    __table_args__ = (  # the form: a participant's and a trainee's may share an id
        UniqueConstraint("organisation_id", "response_id", "form", "item"),
    )

    response_id: uuid.UUID
    organisation_id: uuid.UUID
    lead_organisation_id: uuid.UUID | None = None
    form: str = Field(max_length=64, description="The form's code (any version).")
    item: str = Field(max_length=64)
    rating: float | None = None
    satisfied: bool
    answered_on: date
    activity_code: str | None = Field(default=None, max_length=64)
    course_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None


class GroupSeriesFact(_Fact, table=True):
    """A group that meets over several sessions, with the sessions it
    plans, dated by its start; its sessions are group activity facts
    naming it."""

    __tablename__ = "group_series_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "series_id"),)

    series_id: uuid.UUID
    organisation_id: uuid.UUID
    activity_code: str = Field(max_length=64)
    topic_code: str | None = Field(default=None, max_length=64)
    site_id: uuid.UUID | None = None
    planned_sessions: int
    starts_on: date


class GroupParticipationFact(_Fact, table=True):
    """The participants of one group session or meeting from one
    organisation: a line per organisation the producer named, then one
    line (``participant_organisation_id`` null) for the attendees it did
    not place, so the lines of a unit add up to its attendees."""

    __tablename__ = "group_participation_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "activity_id", "line"),)

    activity_id: uuid.UUID = Field(description="As in group_activity_fact.")
    line: int
    organisation_id: uuid.UUID
    lead_organisation_id: uuid.UUID
    delivered_through: str = Field(max_length=16)
    activity_code: str = Field(max_length=64)
    unit: str = Field(max_length=16)
    held_on: date
    site_id: uuid.UUID | None = None
    modality: str = Field(max_length=32)
    participant_organisation_id: uuid.UUID | None = None
    participants: int
    team_id: uuid.UUID | None = None
    delivery_mode: str | None = Field(default=None, max_length=16)
    project_id: uuid.UUID | None = None


class ReferralFact(_Fact, table=True):
    __tablename__ = "referral_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "referral_id"),)

    referral_id: uuid.UUID
    beneficiary_key: int | None = None
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None = None
    kind: str = Field(max_length=32)
    area: str = Field(max_length=32)
    status: str = Field(max_length=32)
    sent_on: date
    status_on: date


class CaseFact(_Fact, table=True):
    __tablename__ = "case_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "case_id"),)

    case_id: uuid.UUID
    beneficiary_key: int | None = None
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None = None
    status: str = Field(max_length=16)
    risk_level: str = Field(max_length=16)
    iasc_layer_needed: str = Field(max_length=32)
    opened_on: date
    closed_on: date | None = None


class CaseProblemFact(_Fact, table=True):
    """One presenting problem of a case (``line`` its place in the list): a
    case with two problems counts under each. Lines past the list's end
    (it got shorter) are kept with ``alive`` false."""

    __tablename__ = "case_problem_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "case_id", "line"),)

    case_id: uuid.UUID
    line: int
    beneficiary_key: int | None = None
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None = None
    problem: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)
    opened_on: date


class ServiceTopicFact(_Fact, table=True):
    """One topic of a service record (``line`` its place in the list): a
    service about two topics counts once under each and once in a total
    (``services_by_topic`` counts distinct records). A record without a
    topic has one line with none; lines past the list's end (it got shorter)
    are kept with ``alive`` false."""

    __tablename__ = "service_topic_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "record_id", "line"),)

    record_id: uuid.UUID
    line: int
    beneficiary_key: int | None = None
    organisation_id: uuid.UUID
    lead_organisation_id: uuid.UUID
    activity_code: str = Field(max_length=64)
    site_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    topic: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=3)
    service_date: date


class RiskAlertFact(_Fact, table=True):
    """A risk alert by risk type: when raised and when acknowledged (never
    who, nor the action taken)."""

    __tablename__ = "risk_alert_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "alert_id"),)

    alert_id: uuid.UUID
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None = None
    risk_type: str = Field(max_length=64)
    source: str = Field(max_length=32)
    raised_on: date | None = None
    acknowledged: bool = False
    acknowledged_on: date | None = None


class AssessmentFact(_Fact, table=True):
    """Scores only, never item answers."""

    __tablename__ = "assessment_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "assessment_id"),)

    assessment_id: uuid.UUID
    case_id: uuid.UUID = Field(index=True)
    beneficiary_key: int | None = None
    organisation_id: uuid.UUID
    instrument: str = Field(max_length=32)
    timepoint: str = Field(max_length=16)
    administered_on: date
    scores: dict[str, Any] = Field(sa_type=JSON)
    risk_flagged: bool = False


class EnrolmentFact(_Fact, table=True):
    """A person's course through a structured intervention, as it stands:
    ``status_on`` is the last session's date or the closure's."""

    __tablename__ = "enrolment_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "enrolment_id"),)

    enrolment_id: uuid.UUID
    beneficiary_key: int | None = None
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None = None
    intervention: str = Field(max_length=32, description="Its code, no version.")
    status: str = Field(max_length=16)
    enrolled_on: date
    status_on: date
    sessions_attended: int
    sessions_planned: int
    completed: bool
    problem_area: str | None = Field(
        default=None, max_length=32, description="IPT's problem area."
    )


class InterventionSessionFact(_Fact, table=True):
    """One session of an enrolment's protocol: ``alive`` while attended
    (its service record not voided), dated when it was."""

    __tablename__ = "intervention_session_fact"
    __table_args__ = (
        UniqueConstraint(
            "organisation_id",
            "enrolment_id",
            "number",
            name="uq_intervention_session_fact_session",
        ),
    )

    enrolment_id: uuid.UUID
    number: int
    beneficiary_key: int | None = None
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None = None
    intervention: str = Field(max_length=32)
    held_on: date


class TraineeFact(_Fact, table=True):
    __tablename__ = "trainee_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "trainee_id"),)

    trainee_id: uuid.UUID
    organisation_id: uuid.UUID | None = None
    audience: str | None = Field(default=None, max_length=32)
    sex: str | None = Field(default=None, max_length=16)
    staff_id: str | None = Field(default=None, max_length=100, index=True)
    affiliation_organisation_id: uuid.UUID | None = Field(
        default=None, description="The organisation the trainee works for."
    )


class AttendanceFact(_Fact, table=True):
    __tablename__ = "attendance_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "session_id", "trainee_id"),)

    session_id: uuid.UUID
    trainee_id: uuid.UUID
    cohort_id: uuid.UUID
    organisation_id: uuid.UUID
    held_on: date
    hours: float
    present: bool
    course_id: uuid.UUID | None = None
    course_approach: str | None = Field(default=None, max_length=32)
    course_level: str | None = Field(default=None, max_length=16)
    modality: str | None = Field(default=None, max_length=16)
    site_id: uuid.UUID | None = None
    topic_code: str | None = Field(default=None, max_length=64)
    partner_organisation_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None


class CapacityFact(_Fact, table=True):
    """One capacity-building service to one trainee: a training session
    attended (``alive`` while marked present) or a supervision, coaching or
    mentoring session taken part in. Every part of the family is a row of
    the same table, so the family's total is the sum of its parts."""

    __tablename__ = "capacity_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "source_id", "trainee_id"),)

    source_id: uuid.UUID = Field(description="Training or supervision session.")
    trainee_id: uuid.UUID
    organisation_id: uuid.UUID
    component: str = Field(
        max_length=16, description="training, supervision, coaching or mentoring"
    )
    held_on: date
    project_id: uuid.UUID | None = Field(
        default=None, description="The cohort's project (training only)."
    )


class ResultFact(_Fact, table=True):
    __tablename__ = "result_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "cohort_id", "trainee_id"),)

    cohort_id: uuid.UUID
    trainee_id: uuid.UUID
    organisation_id: uuid.UUID
    course_id: uuid.UUID | None = None
    course_level: str | None = Field(default=None, max_length=16)
    decided_on: date | None = None
    completed: bool
    certified: bool
    competency_level: int | None = None
    project_id: uuid.UUID | None = None


class CompetencyFact(_Fact, table=True):
    __tablename__ = "competency_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "assessment_id"),)

    assessment_id: uuid.UUID
    trainee_id: uuid.UUID
    organisation_id: uuid.UUID
    assessed_on: date
    overall_level: int
    harmful: bool = False


class PracticeSessionFact(_Fact, table=True):
    __tablename__ = "practice_session_fact"

    session_id: uuid.UUID = Field(unique=True)
    group_id: uuid.UUID
    organisation_id: uuid.UUID
    held_on: date
    phase: str = Field(max_length=32)
    clients_attended: int
    recorded: bool
    adherence_score: float | None = None
    group_session_id: uuid.UUID | None = Field(
        default=None,
        description="The group activity it was recorded as: its clients are "
        "counted by that group activity's service facts, once.",
    )


class SupervisionFact(_Fact, table=True):
    __tablename__ = "supervision_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "supervision_id"),)

    supervision_id: uuid.UUID
    organisation_id: uuid.UUID
    held_on: date
    duration_minutes: int
    supervisee_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    purpose: str = Field(
        default="supervision",
        max_length=16,
        description="supervision, coaching or mentoring: the supervision "
        "indicators count clinical supervision only, as certification does.",
    )


class PartnerMappingFact(_Fact, table=True):
    """One organisation found by one mapping exercise."""

    __tablename__ = "partner_mapping_fact"
    __table_args__ = (
        UniqueConstraint("organisation_id", "exercise_id", "mapped_organisation_id"),
    )

    organisation_id: uuid.UUID
    exercise_id: uuid.UUID
    mapped_organisation_id: uuid.UUID
    location_id: uuid.UUID | None = None
    conducted_on: date


class CapacityScoreFact(_Fact, table=True):
    """One domain's score of one capacity assessment."""

    __tablename__ = "capacity_score_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "assessment_id", "domain"),)

    organisation_id: uuid.UUID
    assessment_id: uuid.UUID
    assessed_organisation_id: uuid.UUID
    tool: str = Field(max_length=64)
    timepoint: str = Field(max_length=16)
    assessed_on: date
    domain: str = Field(max_length=64)
    score: float
    mentoring_plan_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None


class SelectionFact(_Fact, table=True):
    """One candidate's outcome in one selection round."""

    __tablename__ = "selection_fact"
    __table_args__ = (
        UniqueConstraint("organisation_id", "round_id", "candidate_organisation_id"),
    )

    organisation_id: uuid.UUID
    round_id: uuid.UUID
    candidate_organisation_id: uuid.UUID
    decided_on: date
    selected: bool
    score: float
    score_band: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=32)


class MentoringVisitFact(_Fact, table=True):
    __tablename__ = "mentoring_visit_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "visit_id"),)

    visit_id: uuid.UUID
    plan_id: uuid.UUID
    organisation_id: uuid.UUID
    mentored_organisation_id: uuid.UUID | None = None
    held_on: date
    mode: str = Field(max_length=16)
    duration_minutes: int
    participants: int
    action_points: int
    project_id: uuid.UUID | None = None


class ActionPointFact(_Fact, table=True):
    __tablename__ = "action_point_fact"
    __table_args__ = (UniqueConstraint("organisation_id", "action_point_id"),)

    action_point_id: uuid.UUID
    visit_id: uuid.UUID
    plan_id: uuid.UUID
    organisation_id: uuid.UUID
    mentored_organisation_id: uuid.UUID | None = None
    due_on: date
    status: str = Field(max_length=16)
    completed: bool = False
    completed_on: date | None = None
    project_id: uuid.UUID | None = None


class ProjectFact(_Fact, table=True):
    """A project's period, organisations and targets (``project.saved``):
    what its progress is measured against."""

    __tablename__ = "project_fact"

    project_id: uuid.UUID = Field(unique=True)
    name: str | None = Field(
        default=None, max_length=200, description="Labels breakdowns by project."
    )
    organisation_id: uuid.UUID = Field(description="The lead organisation.")
    partner_organisation_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    start: date
    end: date
    targets: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    version: int = 1


class TeamFact(_Fact, table=True):
    """A team's name and kind (``team.saved``): labels of breakdowns by team."""

    __tablename__ = "team_fact"

    team_id: uuid.UUID = Field(unique=True)
    organisation_id: uuid.UUID
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    active: bool = True
    version: int = 1


class LocationDim(Table, table=True):
    """Governorates, districts and sites, copied from the beneficiary service."""

    __tablename__ = "location_dim"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    names: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    """The name in other languages (language code -> name), for labels in
    the language a report is asked in; ``name`` is the English one."""
    pcode: str | None = Field(default=None, max_length=32)
    level: str = Field(max_length=16)
    parent_id: uuid.UUID | None = None


class OrganisationDim(Table, table=True):
    __tablename__ = "organisation_dim"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    lead_organisation_id: uuid.UUID | None = Field(
        default=None, description="Set for an implementing partner."
    )
    default_language: str = Field(
        default="en",
        max_length=8,
        description="Its outputs' language when a request names none.",
    )


class FeedCursor(Table, table=True):
    """How far each producer's change feed has been read, with nothing
    missing up to ``position``."""

    __tablename__ = "feed_cursor"

    source: str = Field(primary_key=True, max_length=32)
    position: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ErasedSubject(Table, table=True):
    """A person erased at the producer, known only by a keyed digest of their
    id (HMAC-SHA256 under ``PseudonymKey``), so that a late or repeated event
    about them is recognised without the id being kept anywhere here."""

    __tablename__ = "erased_subject"

    digest: str = Field(primary_key=True, max_length=64)


class PseudonymKey(Table, table=True):
    """The one secret of the erasure digests and of erased trainees'
    pseudonyms, made here on first need. It lives in this database, next to
    what it keys, so it can never drift from them (a changed key would let a
    late event link an erased person again); it never leaves it."""

    __tablename__ = "pseudonym_key"

    id: int = Field(default=1, primary_key=True)
    secret: str = Field(max_length=64)


class IngestCounter(Table, table=True):
    """The one-row counter of ingestion transactions (``seq``); its row lock
    makes ingestions commit one after another, in ``seq`` order."""

    __tablename__ = "ingest_counter"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_type=BigInteger)
    erased_seq: int = Field(default=0, sa_type=BigInteger)
    """The ``seq`` of the last ingestion that erased or pseudonymised
    someone: a store snapshot older than it holds what was erased and is
    never mapped (see ``engine/snapshot.py``)."""


class StoreSnapshot(Table, table=True):
    """A store snapshot written from this database (``engine/snapshot.py``):
    its random ``mark`` is in the snapshot's manifest, so a process maps a
    snapshot only if the database it reads has the same mark at the same
    ``seq`` (not another deployment's, nor one from a history this database
    no longer has, e.g. after a restore from backup)."""

    __tablename__ = "store_snapshot"

    mark: uuid.UUID = Field(primary_key=True)
    seq: int = Field(sa_type=BigInteger)
    written_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


EVERYONE = uuid.UUID(int=0)
"""The organisation of a month touched before months were kept per
organisation: every caller's feed re-sends it."""


class TouchedPeriod(Table, table=True):
    """Months whose figures an ingestion changed, and in which organisation:
    what the integrator feed re-sends after a cursor (late data and
    corrections included) to callers who see that organisation, so a feed
    never tells when another organisation's data changed."""

    __tablename__ = "touched_period"

    seq: int = Field(sa_type=BigInteger, primary_key=True)
    month: date = Field(primary_key=True)
    organisation_id: uuid.UUID = Field(primary_key=True)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
