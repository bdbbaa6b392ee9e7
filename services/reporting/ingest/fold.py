"""Fold producers' events into the fact tables, idempotently.

A batch of events is applied in one transaction that first takes the next
ingestion ``seq`` under the counter's row lock, so ingestions commit one after
another and a query cache that has seen ``seq`` N never later finds a change
at or below N. Each fact row is keyed by its entity and remembers the feed
position it was built from; an upsert only overwrites a row with an event of
a higher position, so the same event applied any number of times, or events
applied out of order, leave the same facts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import (
    ARRAY,
    JSON,
    String,
    Text,
    any_,
    bindparam,
    case,
    cast,
    func,
    select,
    text,
    update,
)
from sqlalchemy import Table as CoreTable
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.facts.models import (
    EVERYONE,
    ActionPointFact,
    AssessmentFact,
    AttendanceFact,
    BeneficiaryFact,
    CapacityFact,
    CapacityScoreFact,
    CaseFact,
    CaseProblemFact,
    CompetencyFact,
    EnrolmentFact,
    ErasedSubject,
    FeedbackFact,
    GroupActivityFact,
    GroupParticipationFact,
    GroupSeriesFact,
    IngestCounter,
    InterventionSessionFact,
    MaterialFact,
    MentoringVisitFact,
    PartnerMappingFact,
    PracticeSessionFact,
    ProjectFact,
    PseudonymKey,
    ReferralFact,
    ResultFact,
    RiskAlertFact,
    SelectionFact,
    ServiceFact,
    ServiceTopicFact,
    SupervisionFact,
    TeamFact,
    TouchedPeriod,
    TraineeFact,
)
from shared.contracts.enums import ConsentPurpose
from shared.contracts.events import (
    EVENT_FACTS,
    ActionPointFacts,
    AnonymousServiceFacts,
    AssessmentFacts,
    AttendanceFacts,
    BeneficiaryErasedFacts,
    BeneficiaryFacts,
    BeneficiaryMergedFacts,
    CapacityFacts,
    CaseFacts,
    CompetencyFacts,
    ConsentFacts,
    EnrolmentFacts,
    EventEnvelope,
    EventType,
    FeedbackFacts,
    GroupActivityFacts,
    GroupSeriesFacts,
    MappingFacts,
    MaterialDistributionFacts,
    MentoringVisitFacts,
    PracticeFacts,
    ProjectFacts,
    ReferralFacts,
    ResultFacts,
    RiskAlertFacts,
    SelectionFacts,
    ServiceRecordFacts,
    SupervisionFacts,
    TeamFacts,
    TraineeErasedFacts,
    TraineeFacts,
)
from shared.taxonomy.activities import ActivityKind, ActivityUnit, get_activity
from shared.taxonomy.feedback import feedback_forms, rating, satisfied

log = structlog.get_logger(__name__)

Row = dict[str, Any]
Owned = tuple[uuid.UUID, uuid.UUID]
"""(organisation_id, id) of a beneficiary-service row: its ids are unique
within an organisation only."""


def month_of(day: date) -> date:
    return day.replace(day=1)


@dataclass
class Batch:
    """What one ingestion transaction writes, collected per fact table."""

    seq: int = 0
    beneficiaries: dict[Owned, Row] = field(default_factory=dict)
    erased: dict[Owned, int] = field(default_factory=dict)
    merged: dict[Owned, tuple[uuid.UUID, int]] = field(default_factory=dict)
    """merged person -> (the person kept, the merge event's position)"""
    erased_trainees: dict[Owned, int] = field(default_factory=dict)
    services: dict[Owned, Row] = field(default_factory=dict)
    anonymous: dict[Owned, list[Row]] = field(default_factory=dict)
    rows: dict[str, dict[Any, Row]] = field(default_factory=dict)
    months: set[tuple[date, uuid.UUID]] = field(default_factory=set)
    rejected: int = 0

    def touch(self, day: date | None, organisation_id: uuid.UUID | None) -> None:
        """The month of ``day`` changed in this organisation's figures: the
        feeds re-send it to callers who see that organisation."""
        if day is not None:
            self.months.add((month_of(day), organisation_id or EVERYONE))

    def keep(self, table: str, key: Any, row: Row) -> None:
        """Keep the newest event's row per entity (a batch may hold several)."""
        held = self.rows.setdefault(table, {})
        if key not in held or held[key]["position"] < row["position"]:
            held[key] = row


def _beneficiary(batch: Batch, e: EventEnvelope, f: BeneficiaryFacts) -> None:
    owned = (f.organisation_id, f.beneficiary_id)
    held = batch.beneficiaries.get(owned)
    if held is None or held["position"] < e.position:
        batch.beneficiaries[owned] = {
            "beneficiary_id": f.beneficiary_id,
            "organisation_id": f.organisation_id,
            "site_id": f.site_id,
            "sex": f.sex.value,
            "birth_year": f.birth_year,
            "marital_status": f.marital_status,
            "disability": f.disability.value,
            "displacement_status": f.displacement_status,
            "nationality": f.nationality,
            "registration_date": f.registration_date,
            "registration_channel": f.registration_channel.value,
            "age_at_registration": f.age_at_registration,
            "position": e.position,
        }
    batch.touch(f.registration_date, e.organisation_id)


def _consent(batch: Batch, e: EventEnvelope, f: ConsentFacts) -> None:
    """Withdrawing consent to registration erases the person: reporting
    stops counting them as a person (their services still count)."""
    if f.purpose == ConsentPurpose.registration and not f.granted:
        batch.erased[(e.organisation_id, f.beneficiary_id)] = e.position


def _beneficiary_erased(
    batch: Batch, e: EventEnvelope, f: BeneficiaryErasedFacts
) -> None:
    batch.erased[(f.organisation_id, f.beneficiary_id)] = e.position


def _beneficiary_merged(
    batch: Batch, e: EventEnvelope, f: BeneficiaryMergedFacts
) -> None:
    batch.merged[(f.organisation_id, f.beneficiary_id)] = (f.merged_into_id, e.position)


def _trainee_erased(batch: Batch, e: EventEnvelope, f: TraineeErasedFacts) -> None:
    batch.erased_trainees[(f.organisation_id, f.trainee_id)] = e.position


def _service(batch: Batch, e: EventEnvelope, f: ServiceRecordFacts) -> None:
    key = (f.organisation_id, f.service_record_id)
    held = batch.services.get(key)
    if held is None or held["position"] < e.position:
        batch.services[key] = {
            "record_id": f.service_record_id,
            "line": 0,
            "anonymous": False,
            "beneficiary_id": f.beneficiary_id,
            "organisation_id": f.organisation_id,
            "lead_organisation_id": f.lead_organisation_id,
            "delivered_through": f.delivered_through.value,
            "activity_code": f.activity_code,
            "iasc_layer": f.iasc_layer.value,
            "service_date": f.service_date,
            "site_id": f.site_id,
            "modality": f.modality.value,
            "staff_id": f.staff_id,
            "duration_minutes": f.duration_minutes,
            "people": 1,
            "sex": None,
            "age_group": None,
            "disability": None,
            "age_at_service": f.age_at_service,
            "team_id": f.team_id,
            "delivery_mode": f.delivery_mode.value if f.delivery_mode else None,
            "project_id": f.project_id,
            "series_id": f.group_series_id,
            "group_activity_id": f.group_activity_id,
            "topic_code": f.topic_code,
            "language": f.language,
            "alive": not f.voided,
            "position": e.position,
        }
    _service_topics(batch, e, f)
    batch.touch(f.service_date, e.organisation_id)


def _lines(listed: int, version: int, most: int) -> int:
    """How many lines a fact list keeps: as listed on its first version;
    once edited, every line the list may have had, so lines it lost stop
    counting."""
    return listed if version == 1 else max(listed, most)


def _service_topics(batch: Batch, e: EventEnvelope, f: ServiceRecordFacts) -> None:
    """A line per topic (one with none for a record without); after the
    first version every line the list may have had, so topics taken off
    stop counting. Events before ``topic_codes`` state ``topic_code``."""
    topics: list[str | None] = list(f.topic_codes) or [f.topic_code]
    for line in range(_lines(len(topics), f.version, MAX_TOPICS)):
        topic = topics[line] if line < len(topics) else None
        batch.keep(
            "service_topic",
            (f.organisation_id, f.service_record_id, line),
            {
                "record_id": f.service_record_id,
                "line": line,
                "beneficiary_id": f.beneficiary_id,
                "organisation_id": f.organisation_id,
                "lead_organisation_id": f.lead_organisation_id,
                "activity_code": f.activity_code,
                "site_id": f.site_id,
                "team_id": f.team_id,
                "project_id": f.project_id,
                "topic": topic,
                "language": f.language,
                "service_date": f.service_date,
                "alive": not f.voided and line < len(topics),
                "position": e.position,
            },
        )


MAX_TOPICS = 5
"""The most topics a service record may list (``ServiceTopics``)."""


def _anonymous(batch: Batch, e: EventEnvelope, f: AnonymousServiceFacts) -> None:
    owned = (f.organisation_id, f.anonymous_service_id)
    held = batch.anonymous.get(owned)
    if held and held[0]["position"] >= e.position:
        return
    batch.anonymous[owned] = [
        {
            "record_id": f.anonymous_service_id,
            "line": line,
            "anonymous": True,
            "beneficiary_key": None,
            "organisation_id": f.organisation_id,
            "lead_organisation_id": f.lead_organisation_id,
            "delivered_through": f.delivered_through.value,
            "activity_code": f.activity_code,
            "iasc_layer": f.iasc_layer.value,
            "service_date": f.service_date,
            "site_id": f.site_id,
            "modality": f.modality.value,
            "staff_id": f.staff_id,
            "duration_minutes": None,
            "people": count.count,
            "sex": count.sex.value if count.sex else None,
            "age_group": count.age_group.value,
            "disability": count.disability.value,
            "age_at_service": None,
            "team_id": f.team_id,
            "delivery_mode": f.delivery_mode.value if f.delivery_mode else None,
            "project_id": f.project_id,
            "series_id": f.group_series_id,
            "group_activity_id": f.group_activity_id,
            "topic_code": None,
            "language": None,
            "alive": not f.voided,
            "position": e.position,
        }
        for line, count in enumerate(f.counts)
    ]
    batch.touch(f.service_date, e.organisation_id)
    activity = get_activity(f.activity_code)
    grouped = activity is not None and activity.kind != ActivityKind.individual
    if f.group_activity_id is None and grouped:
        _unit(
            batch,
            e,
            f.anonymous_service_id,
            {
                "organisation_id": f.organisation_id,
                "lead_organisation_id": f.lead_organisation_id,
                "delivered_through": f.delivered_through.value,
                "activity_code": f.activity_code,
                "iasc_layer": f.iasc_layer.value,
                "held_on": f.service_date,
                "site_id": f.site_id,
                "modality": f.modality.value,
                "duration_minutes": None,
                "attendees": sum(c.count for c in f.counts),
                "series_id": None,
                "topic_code": None,
                "language": None,
                "team_id": f.team_id,
                "delivery_mode": f.delivery_mode.value if f.delivery_mode else None,
                "project_id": f.project_id,
                "alive": not f.voided,
            },
        )


def _group_activity(batch: Batch, e: EventEnvelope, f: GroupActivityFacts) -> None:
    _unit(
        batch,
        e,
        f.group_activity_id,
        {
            "organisation_id": f.organisation_id,
            "lead_organisation_id": f.lead_organisation_id,
            "delivered_through": f.delivered_through.value,
            "activity_code": f.activity_code,
            "iasc_layer": f.iasc_layer.value,
            "held_on": f.activity_date,
            "site_id": f.site_id,
            "modality": f.modality.value,
            "duration_minutes": f.duration_minutes,
            "attendees": f.registered_attendees + f.anonymous_attendees,
            "series_id": f.group_series_id,
            "topic_code": f.topic_code,
            "language": f.language,
            "team_id": f.team_id,
            "delivery_mode": f.delivery_mode.value if f.delivery_mode else None,
            "project_id": f.project_id,
            "alive": not f.voided,
        },
        {p.organisation_id: p.participants for p in f.participants_by_organisation},
    )


def _group_series(batch: Batch, e: EventEnvelope, f: GroupSeriesFacts) -> None:
    batch.keep(
        "group_series",
        (f.organisation_id, f.group_series_id),
        {
            "series_id": f.group_series_id,
            "organisation_id": f.organisation_id,
            "activity_code": f.activity_code,
            "topic_code": f.topic_code,
            "site_id": f.site_id,
            "planned_sessions": f.planned_sessions,
            "starts_on": f.starts_on,
            "alive": not f.voided,
            "position": e.position,
        },
    )
    batch.touch(f.starts_on, f.organisation_id)


def _unit(
    batch: Batch,
    e: EventEnvelope,
    activity_id: uuid.UUID,
    row: Row,
    by_organisation: dict[uuid.UUID, int] | None = None,
) -> None:
    """A group session or meeting held, once: its unit from the taxonomy
    (an unknown code, from a newer producer, is a session). Its attendees
    by the organisation they came from, the ones not placed last."""
    activity = get_activity(row["activity_code"])
    unit = activity.unit if activity else ActivityUnit.session
    batch.keep(
        "group_activity",
        (row["organisation_id"], activity_id),
        {
            **row,
            "activity_id": activity_id,
            "unit": unit.value,
            "position": e.position,
        },
    )
    placed = list((by_organisation or {}).items())
    rest = max(row["attendees"] - sum(n for _, n in placed), 0)
    for line, (participant_organisation, participants) in enumerate(
        [*placed, (None, rest)]
    ):
        batch.keep(
            "group_participation",
            (row["organisation_id"], activity_id, line),
            {
                "activity_id": activity_id,
                "line": line,
                "organisation_id": row["organisation_id"],
                "lead_organisation_id": row["lead_organisation_id"],
                "delivered_through": row["delivered_through"],
                "activity_code": row["activity_code"],
                "unit": unit.value,
                "held_on": row["held_on"],
                "site_id": row["site_id"],
                "modality": row["modality"],
                "participant_organisation_id": participant_organisation,
                "participants": participants,
                "team_id": row["team_id"],
                "delivery_mode": row["delivery_mode"],
                "project_id": row["project_id"],
                "alive": row["alive"],
                "position": e.position,
            },
        )
    batch.touch(row["held_on"], row["organisation_id"])


def _case(batch: Batch, e: EventEnvelope, f: CaseFacts) -> None:
    batch.keep(
        "case",
        (f.organisation_id, f.case_id),
        {
            "case_id": f.case_id,
            "beneficiary_id": f.beneficiary_id,
            "organisation_id": f.organisation_id,
            "site_id": f.site_id,
            "status": f.status.value,
            "risk_level": f.risk_level.value,
            "iasc_layer_needed": f.iasc_layer_needed.value,
            "opened_on": f.opened_on,
            "closed_on": f.closed_on,
            "position": e.position,
        },
    )
    # a line per problem; once edited, every line the list may have had
    # (the longest list intake takes), so lines it lost stop counting
    for line in range(_lines(len(f.presenting_problems), f.version, MAX_PROBLEMS)):
        problem = (
            f.presenting_problems[line] if line < len(f.presenting_problems) else None
        )
        batch.keep(
            "case_problem",
            (f.organisation_id, f.case_id, line),
            {
                "case_id": f.case_id,
                "line": line,
                "beneficiary_id": f.beneficiary_id,
                "organisation_id": f.organisation_id,
                "site_id": f.site_id,
                "problem": problem,
                "status": f.status.value,
                "opened_on": f.opened_on,
                "alive": problem is not None,
                "position": e.position,
            },
        )
    batch.touch(f.opened_on, e.organisation_id)


MAX_PROBLEMS = 10
"""The most presenting problems a case may list (``CaseOpen``)."""


def _risk_alert(batch: Batch, e: EventEnvelope, f: RiskAlertFacts) -> None:
    batch.keep(
        "risk_alert",
        (f.organisation_id, f.alert_id),
        {
            "alert_id": f.alert_id,
            "organisation_id": f.organisation_id,
            "site_id": f.site_id,
            "risk_type": f.flag,
            "source": f.source,
            "raised_on": f.raised_on,
            "acknowledged": f.status.value == "acknowledged",
            "acknowledged_on": f.acknowledged_on,
            "position": e.position,
        },
    )
    batch.touch(f.raised_on, e.organisation_id)
    batch.touch(f.acknowledged_on, e.organisation_id)


def _assessment(batch: Batch, e: EventEnvelope, f: AssessmentFacts) -> None:
    batch.keep(
        "assessment",
        (f.organisation_id, f.assessment_id),
        {
            "assessment_id": f.assessment_id,
            "case_id": f.case_id,
            "beneficiary_id": f.beneficiary_id,
            "organisation_id": f.organisation_id,
            "instrument": f.instrument,
            "timepoint": f.timepoint.value,
            "administered_on": f.administered_on,
            "scores": f.scores,
            "risk_flagged": f.risk_flagged,
            "position": e.position,
        },
    )
    batch.touch(f.administered_on, e.organisation_id)


def _referral(batch: Batch, e: EventEnvelope, f: ReferralFacts) -> None:
    batch.keep(
        "referral",
        (f.organisation_id, f.referral_id),
        {
            "referral_id": f.referral_id,
            "beneficiary_id": f.beneficiary_id,
            "organisation_id": f.organisation_id,
            "site_id": f.site_id,
            "kind": f.kind.value,
            "area": f.area.value,
            "status": f.status.value,
            "sent_on": f.sent_on,
            "status_on": f.status_on,
            "position": e.position,
        },
    )
    batch.touch(f.sent_on, e.organisation_id)


def _enrolment(batch: Batch, e: EventEnvelope, f: EnrolmentFacts) -> None:
    """An enrolment as it stands, and each protocol session: attended (with
    its date) or not. Events from before the dates were sent are skipped."""
    if f.enrolled_on is None or f.status_on is None or f.sessions is None:
        return
    code = f.intervention.split("@", 1)[0]
    owned = (f.organisation_id, f.enrolment_id)
    common = {
        "enrolment_id": f.enrolment_id,
        "beneficiary_id": f.beneficiary_id,
        "organisation_id": f.organisation_id,
        "site_id": f.site_id,
        "intervention": code,
        "position": e.position,
    }
    batch.keep(
        "enrolment",
        owned,
        {
            **common,
            "status": f.status.value,
            "enrolled_on": f.enrolled_on,
            "status_on": f.status_on,
            "sessions_attended": f.sessions_attended,
            "sessions_planned": f.sessions_planned,
            "completed": f.completed,
            "problem_area": f.problem_area.value if f.problem_area else None,
        },
    )
    for held in f.sessions:
        batch.keep(
            "intervention_session",
            (*owned, held.number),
            {
                **common,
                "number": held.number,
                "held_on": held.attended_on or f.enrolled_on,
                "alive": held.attended_on is not None,
            },
        )
        batch.touch(held.attended_on, e.organisation_id)
    batch.touch(f.enrolled_on, e.organisation_id)
    batch.touch(f.status_on, e.organisation_id)


def _trainee(batch: Batch, e: EventEnvelope, f: TraineeFacts) -> None:
    batch.keep(
        "trainee",
        (f.organisation_id, f.trainee_id),
        {
            "trainee_id": f.trainee_id,
            "organisation_id": f.organisation_id,
            "audience": f.audience.value,
            "sex": f.sex.value,
            "staff_id": f.staff_id,
            "affiliation_organisation_id": f.affiliation_organisation_id,
            "position": e.position,
        },
    )


def _attendance(batch: Batch, e: EventEnvelope, f: AttendanceFacts) -> None:
    batch.keep(
        "attendance",
        (f.organisation_id, f.session_id, f.trainee_id),
        {
            "session_id": f.session_id,
            "trainee_id": f.trainee_id,
            "cohort_id": f.cohort_id,
            "organisation_id": f.organisation_id,
            "held_on": f.held_on,
            "hours": f.hours,
            "present": f.present,
            "course_id": f.course_id,
            "course_approach": f.course_approach and f.course_approach.value,
            "course_level": f.course_level and f.course_level.value,
            "modality": f.modality,
            "site_id": f.site_id,
            "topic_code": f.topic_code,
            "partner_organisation_id": f.partner_organisation_id,
            "project_id": f.project_id,
            "position": e.position,
        },
    )
    _capacity(
        batch,
        e,
        f.session_id,
        f.trainee_id,
        "training",
        f.held_on,
        f.present,
        project_id=f.project_id,
    )
    batch.touch(f.held_on, e.organisation_id)


def _capacity(
    batch: Batch,
    e: EventEnvelope,
    source_id: uuid.UUID,
    trainee_id: uuid.UUID,
    component: str,
    held_on: date,
    alive: bool,
    *,
    project_id: uuid.UUID | None = None,
) -> None:
    """One capacity-building service to one trainee (see ``CapacityFact``)."""
    batch.keep(
        "capacity",
        (e.organisation_id, source_id, trainee_id),
        {
            "source_id": source_id,
            "trainee_id": trainee_id,
            "organisation_id": e.organisation_id,
            "component": component,
            "held_on": held_on,
            "project_id": project_id,
            "alive": alive,
            "position": e.position,
        },
    )


def _result(batch: Batch, e: EventEnvelope, f: ResultFacts) -> None:
    batch.keep(
        "result",
        (f.organisation_id, f.cohort_id, f.trainee_id),
        {
            "cohort_id": f.cohort_id,
            "trainee_id": f.trainee_id,
            "organisation_id": f.organisation_id,
            "course_id": f.course_id,
            "course_level": f.course_level.value,
            "decided_on": f.decided_on,
            "completed": f.completed,
            "certified": f.certified,
            "competency_level": f.competency_level,
            "project_id": f.project_id,
            "position": e.position,
        },
    )
    batch.touch(f.decided_on, e.organisation_id)


def _competency(batch: Batch, e: EventEnvelope, f: CompetencyFacts) -> None:
    batch.keep(
        "competency",
        (f.organisation_id, f.assessment_id),
        {
            "assessment_id": f.assessment_id,
            "trainee_id": f.trainee_id,
            "organisation_id": f.organisation_id,
            "assessed_on": f.assessed_on,
            "overall_level": f.overall_level,
            "harmful": f.harmful,
            "position": e.position,
        },
    )
    batch.touch(f.assessed_on, e.organisation_id)


def _practice(batch: Batch, e: EventEnvelope, f: PracticeFacts) -> None:
    held = batch.rows.get("practice", {}).get(f.session_id)
    row = {
        "session_id": f.session_id,
        "group_id": f.group_id,
        "organisation_id": f.organisation_id,
        "held_on": f.held_on,
        "phase": f.phase,
        "clients_attended": f.clients_attended,
        "recorded": f.recorded,
        "adherence_score": f.adherence_score,
        "group_session_id": f.group_session_id,
        "position": e.position,
    }
    if held is not None and row["adherence_score"] is None:
        row["adherence_score"] = held["adherence_score"]
    batch.keep("practice", f.session_id, row)
    batch.touch(f.held_on, e.organisation_id)


def _supervision(batch: Batch, e: EventEnvelope, f: SupervisionFacts) -> None:
    batch.keep(
        "supervision",
        (f.organisation_id, f.supervision_id),
        {
            "supervision_id": f.supervision_id,
            "organisation_id": f.organisation_id,
            "held_on": f.held_on,
            "duration_minutes": f.duration_minutes,
            "supervisee_ids": [str(s) for s in f.supervisee_ids],
            "purpose": f.purpose.value,
            "position": e.position,
        },
    )
    for supervisee in f.supervisee_ids:
        _capacity(
            batch, e, f.supervision_id, supervisee, f.purpose.value, f.held_on, True
        )
    batch.touch(f.held_on, e.organisation_id)


SCORE_BANDS = ((85.0, "85-100"), (70.0, "70-84"), (50.0, "50-69"), (0.0, "0-49"))
"""Selection score bands (weighted totals, 0-100), highest first."""


def score_band(score: float) -> str:
    return next(label for floor, label in SCORE_BANDS if score >= floor)


def _mapping(batch: Batch, e: EventEnvelope, f: MappingFacts) -> None:
    for mapped in f.mapped_organisation_ids:
        batch.keep(
            "mapping",
            (f.organisation_id, f.exercise_id, mapped),
            {
                "organisation_id": f.organisation_id,
                "exercise_id": f.exercise_id,
                "mapped_organisation_id": mapped,
                "location_id": f.location_id,
                "conducted_on": f.conducted_on,
                "position": e.position,
            },
        )
    batch.touch(f.conducted_on, e.organisation_id)


def _capacity_score(batch: Batch, e: EventEnvelope, f: CapacityFacts) -> None:
    for domain, score in f.domain_scores.items():
        batch.keep(
            "capacity_score",
            (f.organisation_id, f.assessment_id, domain),
            {
                "organisation_id": f.organisation_id,
                "assessment_id": f.assessment_id,
                "assessed_organisation_id": f.assessed_organisation_id,
                "tool": f.tool,
                "timepoint": f.timepoint,
                "assessed_on": f.assessed_on,
                "domain": domain,
                "score": score,
                "mentoring_plan_id": f.mentoring_plan_id,
                "project_id": f.project_id,
                "position": e.position,
            },
        )
    batch.touch(f.assessed_on, e.organisation_id)


def _selection(batch: Batch, e: EventEnvelope, f: SelectionFacts) -> None:
    for outcome in f.outcomes:
        candidate = outcome.candidate_organisation_id
        batch.keep(
            "selection",
            (f.organisation_id, f.round_id, candidate),
            {
                "organisation_id": f.organisation_id,
                "round_id": f.round_id,
                "candidate_organisation_id": candidate,
                "decided_on": f.decided_on,
                "selected": outcome.selected,
                "score": outcome.score,
                "score_band": score_band(outcome.score),
                "reason": outcome.reason,
                "position": e.position,
            },
        )
    batch.touch(f.decided_on, e.organisation_id)


def _mentoring(batch: Batch, e: EventEnvelope, f: MentoringVisitFacts) -> None:
    batch.keep(
        "mentoring",
        (f.organisation_id, f.visit_id),
        {**f.model_dump(), "position": e.position},
    )
    batch.touch(f.held_on, e.organisation_id)


def _action_point(batch: Batch, e: EventEnvelope, f: ActionPointFacts) -> None:
    batch.keep(
        "action_point",
        (f.organisation_id, f.action_point_id),
        {**f.model_dump(), "completed": f.status == "done", "position": e.position},
    )
    batch.touch(f.completed_on or f.due_on, e.organisation_id)


def _material(batch: Batch, e: EventEnvelope, f: MaterialDistributionFacts) -> None:
    row = f.model_dump(exclude={"group_activity_id", "service_record_id", "voided"})
    batch.keep(
        "material",
        (f.organisation_id, f.distribution_id),
        {**row, "alive": not f.voided, "position": e.position},
    )
    batch.touch(f.distributed_on, f.organisation_id)


def _feedback(batch: Batch, e: EventEnvelope, f: FeedbackFacts) -> None:
    """A row per item answered; the form (its code without the version)
    says each item's scale."""
    form = feedback_forms().get(f.form)
    if form is None:  # a newer producer's form: not reported here yet
        batch.rejected += 1
        return
    scales = {item.code: item.scale for item in form.items}
    where = f.model_dump(exclude={"form", "answers"})
    for item, value in f.answers.items():
        scale = scales.get(item)
        if scale is None:
            continue
        batch.keep(
            "feedback",
            (f.organisation_id, f.response_id, form.code, item),
            {
                **where,
                "form": form.code,
                "item": item,
                "rating": rating(scale, value),
                "satisfied": satisfied(scale, value),
                "position": e.position,
            },
        )
    batch.touch(f.answered_on, f.organisation_id)


def _project(batch: Batch, e: EventEnvelope, f: ProjectFacts) -> None:
    batch.keep(
        "project",
        f.project_id,
        {
            "project_id": f.project_id,
            "name": f.name,
            "organisation_id": f.organisation_id,
            "partner_organisation_ids": [str(p) for p in f.partner_organisation_ids],
            "start": f.start,
            "end": f.end,
            "targets": [t.model_dump(mode="json") for t in f.targets],
            "version": f.version,
            "position": e.position,
        },
    )


def _team(batch: Batch, e: EventEnvelope, f: TeamFacts) -> None:
    batch.keep("team", f.team_id, {**f.model_dump(), "position": e.position})


Fold = Callable[[Batch, EventEnvelope, Any], None]

FOLDS: dict[EventType, Fold] = {
    EventType.beneficiary_registered: _beneficiary,
    EventType.beneficiary_updated: _beneficiary,
    EventType.beneficiary_erased: _beneficiary_erased,
    EventType.beneficiary_merged: _beneficiary_merged,
    EventType.consent_recorded: _consent,
    EventType.service_record_recorded: _service,
    EventType.service_record_updated: _service,
    EventType.service_record_voided: _service,
    EventType.anonymous_service_recorded: _anonymous,
    EventType.group_activity_recorded: _group_activity,
    EventType.group_series_recorded: _group_series,
    EventType.case_opened: _case,
    EventType.case_status_changed: _case,
    EventType.case_updated: _case,
    EventType.assessment_recorded: _assessment,
    EventType.referral_sent: _referral,
    EventType.referral_status_changed: _referral,
    EventType.enrolment_updated: _enrolment,
    EventType.risk_alert_raised: _risk_alert,
    EventType.risk_alert_acknowledged: _risk_alert,
    EventType.trainee_registered: _trainee,
    EventType.trainee_updated: _trainee,
    EventType.trainee_erased: _trainee_erased,
    EventType.attendance_recorded: _attendance,
    EventType.training_result_recorded: _result,
    EventType.competency_assessed: _competency,
    EventType.practice_session_recorded: _practice,
    EventType.fidelity_review_recorded: _practice,
    EventType.supervision_recorded: _supervision,
    EventType.mapping_exercise_recorded: _mapping,
    EventType.capacity_assessment_recorded: _capacity_score,
    EventType.selection_round_decided: _selection,
    EventType.mentoring_visit_recorded: _mentoring,
    EventType.action_point_updated: _action_point,
    EventType.project_saved: _project,
    EventType.team_saved: _team,
    EventType.material_distribution_recorded: _material,
    EventType.material_distribution_voided: _material,
    EventType.feedback_response_recorded: _feedback,
}
"""How each reported event type becomes facts; its payload is validated
against the producers' declaration (``EVENT_FACTS``) first."""
NOT_FOLDED = frozenset(
    {
        EventType.needs_assessment_recorded,  # listed, not counted yet
    }
)


def collect(events: Iterable[EventEnvelope]) -> Batch:
    batch = Batch()
    for event in events:
        try:
            kind = EventType(event.type)
        except ValueError:  # a newer producer's type: not reported here yet
            continue
        fold = FOLDS.get(kind)
        if fold is None:
            continue
        contract = EVENT_FACTS[kind]
        try:
            facts = contract.model_validate(event.data)
        except ValidationError as exc:
            batch.rejected += 1
            log.error(
                "event_rejected",
                event_id=str(event.id),
                type=event.type,
                errors=exc.error_count(),
            )
            continue
        fold(batch, event, facts)
    return batch


def _dialect(session: AsyncSession) -> str:
    assert session.bind is not None
    return session.bind.dialect.name


def _among(dialect: str, column: Any, values: Iterable[Any]) -> Any:
    """``column IN values``; on PostgreSQL as ``= ANY`` of one array
    parameter, which neither renders nor plans a parameter per value. The
    statement text is then the same for every batch, so PostgreSQL would
    soon reuse one generic plan for it: one made while a table was small
    scans it whole, comparing every row with every value, for as long as
    the connection lives. ``apply`` asks for a plan per execution instead."""
    values = list(values)
    if dialect == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def _insert_rows(
    dialect: str, table: CoreTable, rows: Sequence[Row]
) -> tuple[Any, Any]:
    """An INSERT of these rows (all with the same keys) and its parameters.
    On PostgreSQL one statement inserts them all from one array per column
    (``unnest``), instead of one execution per row: a batch's rows cost one
    round of planning and parameter encoding, not hundreds."""
    if dialect != "postgresql":
        return sqlite.insert(table), list(rows)
    names = list(rows[0])
    arrays = select(*[_unnest(table.c[name]) for name in names])
    statement = postgresql.insert(table).from_select(names, arrays)
    parameters = {}
    for name in names:
        values = [row[name] for row in rows]
        if isinstance(table.c[name].type, JSON):
            values = [json.dumps(value) for value in values]
        parameters[name] = values
    return statement, parameters


def _unnest(column: Any) -> Any:
    """One row per element of the array parameter named after the column
    (JSON values travel as their text: an array of JSON arrays would be read
    as a two-dimensional array)."""
    if isinstance(column.type, JSON):
        return cast(func.unnest(bindparam(column.name, type_=ARRAY(Text))), JSON)
    return func.unnest(bindparam(column.name, type_=ARRAY(column.type)))


async def _upsert(
    session: AsyncSession,
    model: type[Any],
    rows: Sequence[Row],
    *,
    keys: Sequence[str],
    seq: int,
    guard: bool = True,
) -> None:
    """Insert or overwrite, but only with a newer event (``position``)."""
    if not rows:
        return
    table: CoreTable = model.__table__
    statement, parameters = _insert_rows(
        _dialect(session), table, [{**row, "seq": seq} for row in rows]
    )
    columns = [c for c in rows[0] if c not in keys]
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: statement.excluded[c] for c in [*columns, "seq"]},
        where=(table.c.position < statement.excluded.position) if guard else None,
    )
    await session.execute(statement, parameters)


async def _insert_new(session: AsyncSession, table: CoreTable, rows: list[Row]) -> None:
    """Insert the rows whose unique key is not held yet; skip the others."""
    if rows:
        statement, parameters = _insert_rows(_dialect(session), table, rows)
        await session.execute(statement.on_conflict_do_nothing(), parameters)


async def _held(
    session: AsyncSession,
    table: CoreTable,
    id_column: str,
    owned: set[Owned],
    *columns: Any,
) -> list[Any]:
    """Rows ``(organisation_id, id, *columns)`` of ``table`` for exactly
    these (organisation, id) pairs: each column is matched against one array
    (see ``_among``), the few rows of an id reused by another organisation of
    the batch are dropped here."""
    if not owned:
        return []
    dialect = _dialect(session)
    found = await session.execute(
        select(table.c.organisation_id, table.c[id_column], *columns).where(
            _among(dialect, table.c[id_column], {i for _, i in owned}),
            _among(dialect, table.c.organisation_id, {o for o, _ in owned}),
        )
    )
    return [row for row in found if (row[0], row[1]) in owned]


async def _beneficiary_keys(
    session: AsyncSession, people: set[Owned], seq: int
) -> dict[Owned, int | None]:
    """Dense keys of these people, creating placeholders for people whose
    registration event has not arrived yet; erased people have no key, a
    merged person's facts go under the key of the person kept."""
    table: CoreTable = BeneficiaryFact.__table__  # type: ignore[attr-defined]

    async def held(among: set[Owned]) -> dict[Owned, int | None]:
        rows = await _held(
            session,
            table,
            "beneficiary_id",
            among,
            table.c.key,
            table.c.erased,
            table.c.merged_into,
        )
        return {
            (o, i): merged_into if merged_into is not None else None if erased else k
            for o, i, k, erased, merged_into in rows
        }

    keys = await held(people)
    missing = people - keys.keys()
    if missing:
        await _insert_new(
            session,
            table,
            [
                {"organisation_id": o, "beneficiary_id": i, "seq": seq, "position": 0}
                for o, i in missing
            ],
        )
        keys |= await held(missing)
    return keys


async def _touch_old_months(
    session: AsyncSession,
    batch: Batch,
    column: Any,
    key_column: Any,
    keys: Iterable[Any],
) -> None:
    """The months these rows were in before this batch moves them."""
    keys = list(keys)
    dialect = _dialect(session)
    organisation = column.table.c.organisation_id
    for start in range(0, len(keys), 1000):
        found = await session.execute(
            select(column, organisation).where(
                _among(dialect, key_column, keys[start : start + 1000])
            )
        )
        for day, organisation_id in found:
            batch.touch(day, organisation_id)


async def bump_seq(session: AsyncSession) -> int:
    """Take the next ingestion ``seq``, holding the counter's row lock until
    the caller's transaction ends."""
    counter = IngestCounter.__table__  # type: ignore[attr-defined]
    bumped = await session.execute(
        update(counter)
        .where(counter.c.id == 1)
        .values(seq=counter.c.seq + 1)
        .returning(counter.c.seq)
    )
    return int(bumped.scalar_one())


async def apply(session: AsyncSession, batch: Batch) -> int:
    """Write a collected batch; returns its ingestion ``seq``. The caller
    owns the transaction."""
    seq = batch.seq = await bump_seq(session)
    dialect = _dialect(session)
    if dialect == "postgresql":  # see _among
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    ben = BeneficiaryFact.__table__  # type: ignore[attr-defined]
    svc = ServiceFact.__table__  # type: ignore[attr-defined]

    touched_people = set(batch.beneficiaries) | set(batch.erased)
    keyed = [
        key
        for _, _, key in await _held(
            session, ben, "beneficiary_id", touched_people, ben.c.key
        )
    ]
    if keyed:  # their services' months change (demographics, erasure)
        for day, organisation_id in await session.execute(
            select(svc.c.service_date, svc.c.organisation_id)
            .where(_among(dialect, svc.c.beneficiary_key, keyed))
            .distinct()
        ):
            batch.touch(day, organisation_id)
    linked = {
        _person(row)
        for table, _, _ in _LINKED
        for row in batch.rows.get(table, {}).values()
    } | {_person(row) for row in batch.services.values()}
    secret = await _secret(session)
    gone = set(batch.erased) | await _erased_people(
        session, secret, set(batch.beneficiaries) | linked
    )
    people = [r for i, r in batch.beneficiaries.items() if i not in gone]
    await _upsert(
        session,
        BeneficiaryFact,
        people,
        keys=["organisation_id", "beneficiary_id"],
        seq=seq,
    )
    if batch.erased:
        await _erase_beneficiaries(session, secret, set(batch.erased), seq)
    if batch.erased or batch.erased_trainees:  # older store snapshots hold them
        counter = IngestCounter.__table__  # type: ignore[attr-defined]
        await session.execute(
            update(counter).where(counter.c.id == 1).values(erased_seq=seq)
        )
    keys = await _beneficiary_keys(session, linked - gone, seq)
    await _erase_trainees(session, batch, secret, seq)

    services = [_unaged(_keyed(row, keys)) for row in batch.services.values()]
    if services:
        await _touch_old_months(
            session,
            batch,
            svc.c.service_date,
            svc.c.record_id,
            {row["record_id"] for row in services},
        )
    await _upsert(
        session,
        ServiceFact,
        services,
        keys=["organisation_id", "record_id", "line"],
        seq=seq,
    )
    await _replace_anonymous(session, batch, seq)

    for name, model, natural in _LINKED:
        rows = [_keyed(row, keys) for row in batch.rows.get(name, {}).values()]
        await _upsert(session, model, rows, keys=natural, seq=seq)
    await _merge_beneficiaries(session, batch, seq)
    for name, model, natural, date_column in _PLAIN:
        rows = list(batch.rows.get(name, {}).values())
        own = [c for c in natural if c != "organisation_id"]  # the producer's id
        if rows and date_column and len(own) == 1:
            table = model.__table__
            await _touch_old_months(  # any organisation's under the id: harmless
                session,
                batch,
                table.c[date_column],
                table.c[own[0]],
                {row[own[0]] for row in rows},
            )
        await _upsert(session, model, rows, keys=natural, seq=seq)
    await _insert_new(
        session,
        TouchedPeriod.__table__,  # type: ignore[attr-defined]
        [
            {"seq": seq, "month": month, "organisation_id": organisation_id}
            for month, organisation_id in sorted(batch.months)
        ],
    )
    return seq


def _person(row: Row) -> Owned:
    """The person a fact is about: one of its own organisation."""
    return (row["organisation_id"], row["beneficiary_id"])


def _keyed(row: Row, keys: dict[Owned, int | None]) -> Row:
    """A fact row as stored: the person's dense key instead of their id."""
    stored = dict(row)
    stored["beneficiary_key"] = keys.get(_person(row))
    del stored["beneficiary_id"]
    return stored


def _unaged(row: Row) -> Row:
    """A service of nobody (its person erased) keeps no age: with its
    date and site it would say too much about who it was."""
    if row["beneficiary_key"] is None:
        row["age_at_service"] = None
    return row


_LINKED: list[tuple[str, type[Any], list[str]]] = [
    ("case", CaseFact, ["organisation_id", "case_id"]),
    ("case_problem", CaseProblemFact, ["organisation_id", "case_id", "line"]),
    ("service_topic", ServiceTopicFact, ["organisation_id", "record_id", "line"]),
    ("assessment", AssessmentFact, ["organisation_id", "assessment_id"]),
    ("referral", ReferralFact, ["organisation_id", "referral_id"]),
    ("enrolment", EnrolmentFact, ["organisation_id", "enrolment_id"]),
    (
        "intervention_session",
        InterventionSessionFact,
        ["organisation_id", "enrolment_id", "number"],
    ),
]
_PLAIN: list[tuple[str, type[Any], list[str], str | None]] = [
    ("group_activity", GroupActivityFact, ["organisation_id", "activity_id"], None),
    ("group_series", GroupSeriesFact, ["organisation_id", "series_id"], None),
    (
        "group_participation",
        GroupParticipationFact,
        ["organisation_id", "activity_id", "line"],
        None,
    ),
    ("trainee", TraineeFact, ["organisation_id", "trainee_id"], None),
    (
        "attendance",
        AttendanceFact,
        ["organisation_id", "session_id", "trainee_id"],
        "held_on",
    ),
    (
        "result",
        ResultFact,
        ["organisation_id", "cohort_id", "trainee_id"],
        "decided_on",
    ),
    ("competency", CompetencyFact, ["organisation_id", "assessment_id"], "assessed_on"),
    (
        "capacity",
        CapacityFact,
        ["organisation_id", "source_id", "trainee_id"],
        "held_on",
    ),
    ("practice", PracticeSessionFact, ["session_id"], "held_on"),
    ("supervision", SupervisionFact, ["organisation_id", "supervision_id"], "held_on"),
    (
        "mapping",
        PartnerMappingFact,
        ["organisation_id", "exercise_id", "mapped_organisation_id"],
        None,
    ),
    (
        "capacity_score",
        CapacityScoreFact,
        ["organisation_id", "assessment_id", "domain"],
        None,
    ),
    (
        "selection",
        SelectionFact,
        ["organisation_id", "round_id", "candidate_organisation_id"],
        None,
    ),
    ("mentoring", MentoringVisitFact, ["organisation_id", "visit_id"], "held_on"),
    (
        "action_point",
        ActionPointFact,
        ["organisation_id", "action_point_id"],
        "completed_on",
    ),
    ("project", ProjectFact, ["project_id"], None),
    ("team", TeamFact, ["team_id"], None),
    ("material", MaterialFact, ["organisation_id", "distribution_id"], None),
    (
        "feedback",
        FeedbackFact,
        ["organisation_id", "response_id", "form", "item"],
        None,
    ),
    ("risk_alert", RiskAlertFact, ["organisation_id", "alert_id"], None),
]


async def _secret(session: AsyncSession) -> bytes:
    """The pseudonym key, made on first need (see ``PseudonymKey``)."""
    table: CoreTable = PseudonymKey.__table__  # type: ignore[attr-defined]
    held = select(table.c.secret).where(table.c.id == 1)
    found = await session.scalar(held)
    if found is None:  # the first ingestion ever
        await _insert_new(session, table, [{"id": 1, "secret": secrets.token_hex(32)}])
        found = await session.scalar(held)
    return bytes.fromhex(str(found))


def digest(secret: bytes, kind: str, subject: uuid.UUID | Owned) -> str:
    """What ``erased_subject`` keeps of an erased person's id (a trainee's;
    a beneficiary's with its organisation, as ids are unique only there)."""
    named = subject if isinstance(subject, uuid.UUID) else f"{subject[0]}:{subject[1]}"
    message = f"erased:{kind}:{named}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def pseudonym(secret: bytes, subject_id: uuid.UUID) -> uuid.UUID:
    """An erased trainee's id here: the same for every event about them,
    whatever order events come in, and not the id the training service uses."""
    message = f"pseudonym:trainee:{subject_id}".encode()
    return uuid.UUID(bytes=hmac.new(secret, message, hashlib.sha256).digest()[:16])


async def _erased_people(
    session: AsyncSession, secret: bytes, people: set[Owned]
) -> set[Owned]:
    """Which of these beneficiaries were erased before: by the digest of
    (organisation, id), or of the id alone as kept before ids were per
    organisation (such an id reused by another organisation since is taken
    as erased too: uncounted, never joined back to anyone)."""
    return await _erased_owned(session, secret, "beneficiary", people)


async def _erased_owned(
    session: AsyncSession, secret: bytes, kind: str, subjects: set[Owned]
) -> set[Owned]:
    """Which of these (organisation, id) subjects were erased before: by the
    digest of the pair, or of the id alone as kept before ids were per
    organisation (see ``_erased_people``)."""
    found = await _erased(session, secret, kind, subjects)
    legacy = await _erased(session, secret, kind, {i for _, i in subjects})
    return found | {p for p in subjects if p[1] in legacy}


async def _erased(
    session: AsyncSession, secret: bytes, kind: str, ids: set[Any]
) -> set[Any]:
    """Which of these subjects (see ``digest``) were erased before."""
    if not ids:
        return set()
    table: CoreTable = ErasedSubject.__table__  # type: ignore[attr-defined]
    by_digest = {digest(secret, kind, i): i for i in ids}
    found: set[Any] = set()
    digests = list(by_digest)
    dialect = _dialect(session)
    for start in range(0, len(digests), 1000):
        rows = await session.execute(
            select(table.c.digest).where(
                _among(dialect, table.c.digest, digests[start : start + 1000])
            )
        )
        found.update(by_digest[d] for (d,) in rows)
    return found


async def _remember_erased(
    session: AsyncSession, secret: bytes, kind: str, ids: Iterable[Any]
) -> None:
    table: CoreTable = ErasedSubject.__table__  # type: ignore[attr-defined]
    await _insert_new(
        session, table, [{"digest": digest(secret, kind, i)} for i in ids]
    )


_ERASED_PERSON = {
    "organisation_id": None,
    "site_id": None,
    "sex": None,
    "birth_year": None,
    "marital_status": None,
    "disability": None,
    "displacement_status": None,
    "nationality": None,
    "registration_date": None,
    "registration_channel": None,
    "age_at_registration": None,
    "erased": True,
}


async def _erase_beneficiaries(
    session: AsyncSession, secret: bytes, erased: set[Owned], seq: int
) -> None:
    """Unlink the people's services, referrals, cases and assessments, then
    give their fact rows a random id and no attributes: nothing here can be
    joined to the beneficiary service's record any more. The digest lets a
    late event about them be recognised (and kept unlinked)."""
    ben = BeneficiaryFact.__table__  # type: ignore[attr-defined]
    held = [
        key
        for _, _, key in await _held(session, ben, "beneficiary_id", erased, ben.c.key)
    ]
    if held:
        linked: list[type[Any]] = [ServiceFact, *(m for _, m, _ in _LINKED)]
        for model in linked:
            table = model.__table__
            unlinked: dict[str, Any] = {"beneficiary_key": None, "seq": seq}
            if model is ServiceFact:
                unlinked["age_at_service"] = None
            await session.execute(
                update(table)
                .where(_among(_dialect(session), table.c.beneficiary_key, held))
                .values(**unlinked)
            )
        for key in held:
            await session.execute(
                update(ben)
                .where(ben.c.key == key)
                .values(beneficiary_id=uuid.uuid4(), seq=seq, **_ERASED_PERSON)
            )
    await _remember_erased(session, secret, "beneficiary", erased)


async def _merge_beneficiaries(session: AsyncSession, batch: Batch, seq: int) -> None:
    """Two records found to be one person: every fact filed under the
    merged record's key moves to the kept person's, and the merged record
    stops counting as a person (``erased``, with ``merged_into`` so that a
    late event about it is filed under the person kept, and a later merge of
    the person kept carries it along). Applied again, a merge finds the
    record merged already and changes nothing."""
    if not batch.merged:
        return
    ben = BeneficiaryFact.__table__  # type: ignore[attr-defined]
    svc = ServiceFact.__table__  # type: ignore[attr-defined]
    kept_people = {(o, kept) for (o, _), (kept, _) in batch.merged.items()}
    dialect = _dialect(session)
    for (organisation_id, merged_id), (kept_id, position) in sorted(
        batch.merged.items(), key=lambda item: item[1][1]
    ):
        keys = await _beneficiary_keys(
            session, {(organisation_id, merged_id)} | kept_people, seq
        )
        old, new = (
            keys.get((organisation_id, merged_id)),
            keys.get((organisation_id, kept_id)),
        )
        if old is None or new is None or old == new:
            continue  # merged before (a replay), or an erased person
        for day, organisation in await session.execute(
            select(svc.c.service_date, svc.c.organisation_id)
            .where(_among(dialect, svc.c.beneficiary_key, [old]))
            .distinct()
        ):
            batch.touch(day, organisation)
        linked: list[type[Any]] = [ServiceFact, *(m for _, m, _ in _LINKED)]
        for model in linked:
            table = model.__table__
            await session.execute(
                update(table)
                .where(table.c.beneficiary_key == old)
                .values(beneficiary_key=new, seq=seq)
            )
        await session.execute(
            update(ben).where(ben.c.merged_into == old).values(merged_into=new, seq=seq)
        )
        await session.execute(
            update(ben)
            .where(ben.c.key == old)
            .values(
                erased=True,
                merged_into=new,
                seq=seq,
                position=case(
                    (ben.c.position < position, position), else_=ben.c.position
                ),
            )
        )


_TRAINEE_TABLES: list[tuple[str, type[Any]]] = [
    ("trainee", TraineeFact),
    ("attendance", AttendanceFact),
    ("result", ResultFact),
    ("competency", CompetencyFact),
    ("capacity", CapacityFact),
]


async def _erase_trainees(
    session: AsyncSession, batch: Batch, secret: bytes, seq: int
) -> None:
    """Erased trainees keep being counted, under a keyed pseudonym instead of
    their id and without their staff code; events about them, before or after
    the erasure, get the same pseudonym."""
    mentioned = {
        (row["organisation_id"], row["trainee_id"])
        for name, _ in _TRAINEE_TABLES
        for row in batch.rows.get(name, {}).values()
    } | {
        (row["organisation_id"], uuid.UUID(s))
        for row in batch.rows.get("supervision", {}).values()
        for s in row["supervisee_ids"]
    }
    erasing = set(batch.erased_trainees)
    gone = erasing | await _erased_owned(session, secret, "trainee", mentioned)
    if not gone:
        return
    if erasing:  # rows already held move to the pseudonym before new ones land
        await _pseudonymise_held(session, secret, erasing, batch, seq)
        await _remember_erased(session, secret, "trainee", erasing)
    for name, _ in _TRAINEE_TABLES:
        held = batch.rows.get(name, {})
        for key, row in list(held.items()):
            if (row["organisation_id"], row["trainee_id"]) in gone:
                del held[key]
                row = {**row, "trainee_id": pseudonym(secret, row["trainee_id"])}
                if name == "trainee":
                    row["staff_id"] = row["affiliation_organisation_id"] = None
                held[_trainee_key(name, row)] = row
    for row in batch.rows.get("supervision", {}).values():
        row["supervisee_ids"] = [
            str(pseudonym(secret, uuid.UUID(s)))
            if (row["organisation_id"], uuid.UUID(s)) in gone
            else s
            for s in row["supervisee_ids"]
        ]


def _trainee_key(name: str, row: Row) -> Any:
    """A trainee fact's key in the batch, as ``batch.keep`` made it."""
    organisation_id = row["organisation_id"]
    if name == "trainee":
        return (organisation_id, row["trainee_id"])
    if name == "attendance":
        return (organisation_id, row["session_id"], row["trainee_id"])
    if name == "result":
        return (organisation_id, row["cohort_id"], row["trainee_id"])
    if name == "capacity":
        return (organisation_id, row["source_id"], row["trainee_id"])
    return (organisation_id, row["assessment_id"])


async def _pseudonymise_held(
    session: AsyncSession,
    secret: bytes,
    erasing: set[Owned],
    batch: Batch,
    seq: int,
) -> None:
    trainees = TraineeFact.__table__  # type: ignore[attr-defined]
    services = ServiceFact.__table__  # type: ignore[attr-defined]
    codes = [
        code
        for _, _, code in await _held(
            session, trainees, "trainee_id", erasing, trainees.c.staff_id
        )
        if code is not None
    ]
    if codes:  # their services no longer count as by qualified staff
        for day, organisation_id in await session.execute(
            select(services.c.service_date, services.c.organisation_id)
            .where(_among(_dialect(session), services.c.staff_id, codes))
            .distinct()
        ):
            batch.touch(day, organisation_id)
    for organisation_id, trainee_id in erasing:
        alias = pseudonym(secret, trainee_id)
        for name, model in _TRAINEE_TABLES:
            table = model.__table__
            values: dict[str, Any] = {"trainee_id": alias, "seq": seq}
            if name == "trainee":
                values["staff_id"] = values["affiliation_organisation_id"] = None
            await session.execute(
                update(table)
                .where(
                    table.c.organisation_id == organisation_id,
                    table.c.trainee_id == trainee_id,
                )
                .values(**values)
            )
    supervision = SupervisionFact.__table__  # type: ignore[attr-defined]
    for organisation_id, trainee_id in erasing:
        target, alias_text = str(trainee_id), str(pseudonym(secret, trainee_id))
        rows = await session.execute(
            select(supervision.c.key, supervision.c.supervisee_ids).where(
                supervision.c.organisation_id == organisation_id,
                cast(supervision.c.supervisee_ids, String).contains(target),
            )
        )
        for key, supervisees in rows.all():
            await session.execute(
                update(supervision)
                .where(supervision.c.key == key)
                .values(
                    supervisee_ids=[
                        alias_text if s == target else s for s in supervisees
                    ],
                    seq=seq,
                )
            )


async def _replace_anonymous(session: AsyncSession, batch: Batch, seq: int) -> None:
    """An anonymous service's lines are replaced as a whole by a newer event
    (its demographic lines can change in number)."""
    if not batch.anonymous:
        return
    svc = ServiceFact.__table__  # type: ignore[attr-defined]
    rows = await _held(
        session,
        svc,
        "record_id",
        set(batch.anonymous),
        svc.c.key,
        svc.c.line,
        svc.c.position,
        svc.c.service_date,
    )
    held = {
        (o, i): (position, day) for o, i, _, line, position, day in rows if line == 0
    }
    fresh: list[Row] = []
    replaced: set[Owned] = set()
    for owned, lines in batch.anonymous.items():
        old = held.get(owned)
        if old is not None:
            if old[0] >= lines[0]["position"]:
                continue
            batch.touch(old[1], owned[0])
            replaced.add(owned)
        fresh.extend(lines)
    lines_replaced = [key for o, i, key, line, _, _ in rows if (o, i) in replaced]
    if lines_replaced:
        await session.execute(
            update(svc)
            .where(_among(_dialect(session), svc.c.key, lines_replaced))
            .values(alive=False, line=-svc.c.key, seq=seq)
        )
    await _upsert(
        session,
        ServiceFact,
        fresh,
        keys=["organisation_id", "record_id", "line"],
        seq=seq,
    )
