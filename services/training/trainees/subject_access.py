"""A trainee's right of access: everything the training service holds about
them. Free text that also concerns other trainees (notes of group
supervision, feedback on a session they facilitated with others) is
withheld and said to be; other trainees appear only as counts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.training.cohorts.models import (
    Attendance,
    Cohort,
    CohortEnrolment,
    CohortSession,
)
from services.training.courses.models import Course
from services.training.db import AuditEntry
from services.training.practice.models import (
    FidelityReview,
    PracticeGroup,
    PracticeSession,
)
from services.training.results.models import (
    Certification,
    CompetencyAssessment,
    KnowledgeTest,
)
from services.training.settings import TrainingSettings
from services.training.supervision.models import SupervisionSession
from services.training.trainees import service as trainees_service
from services.training.trainees.models import Trainee
from services.training.trainees.service import TraineeRead
from shared.app import RuntimeDep
from shared.auth import Principal, PrincipalDep
from shared.crypto import KeyRing
from shared.db import under, utcnow
from shared.i18n import LangQuery, Language, asked, chosen_language
from shared.peers import PeerUnavailable


class SessionAttended(BaseModel):
    """A training session the trainee attended."""

    number: int
    held_on: date
    hours: float
    topic: str | None
    present: bool | None = Field(description="None: attendance not taken.")


class TestTaken(BaseModel):
    """A knowledge test the trainee took."""

    kind: str
    score: float
    taken_on: date


class CohortRecord(BaseModel):
    """A cohort the trainee took part in and what was recorded for them."""

    cohort_id: uuid.UUID
    title: str
    course: str
    level: str
    starts_on: date
    ends_on: date
    sessions: list[SessionAttended]
    tests: list[TestTaken]
    certified_on: date | None
    certified_by: str | None


class CohortFacilitated(BaseModel):
    """A cohort the trainee facilitated."""

    cohort_id: uuid.UUID
    title: str
    starts_on: date
    ends_on: date


class CompetencyRecord(BaseModel):
    """A competency assessment held about the trainee."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tool: str
    mode: str
    context: str
    assessed_on: date
    assessor: str
    ratings: dict[str, Any]
    harmful_items: list[str]
    overall_level: int


class SupervisionRecord(BaseModel):
    """A supervision session the trainee took part in."""

    id: uuid.UUID
    supervisor: str
    kind: str
    mode: str
    held_on: date
    duration_minutes: int
    other_supervisees: int
    cases_discussed: int
    notes: str | None
    notes_withheld: bool = Field(
        description="The notes of a group session concern the others too."
    )


class ReviewRecord(BaseModel):
    """A fidelity review of a session the trainee facilitated."""

    session_number: int
    reviewed_on: date
    reviewer: str
    checklist: str
    adherence_score: float
    feedback: str | None
    feedback_withheld: bool = Field(
        description="Feedback on a session facilitated with others."
    )


class PracticeGroupFacilitated(BaseModel):
    """A practice group the trainee facilitated."""

    group_id: uuid.UUID
    name: str
    approach: str
    started_on: date
    co_facilitators: int
    clients: int
    sessions: int
    fidelity_reviews: list[ReviewRecord]


class AccessLogEntry(BaseModel):
    """One time someone read or changed this trainee's records, and why."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    subject: str
    action: str
    reason: str | None


class TraineeSubjectAccess(BaseModel):
    """Everything held about a trainee, for their own copy."""

    generated_at: datetime
    generated_by: str
    trainee: TraineeRead
    cohorts: list[CohortRecord]
    cohorts_facilitated: list[CohortFacilitated]
    competency_assessments: list[CompetencyRecord]
    supervision: list[SupervisionRecord]
    practice_groups_facilitated: list[PracticeGroupFacilitated]
    access_log: list[AccessLogEntry]


async def export_trainee(
    session: AsyncSession, principal: Principal, keyring: KeyRing, trainee_id: uuid.UUID
) -> TraineeSubjectAccess:
    """Every record of one trainee of the caller's organisation, decrypted."""
    trainee = await trainees_service.get_trainee(session, principal, trainee_id)
    tid = str(trainee.id)
    supervision = [
        _supervision(row, keyring)
        for row in await _all(
            session,
            select(SupervisionSession)
            .where(col(SupervisionSession.organisation_id) == trainee.organisation_id)
            .order_by(col(SupervisionSession.held_on)),
        )
        if tid in row.supervisee_trainee_ids
    ]
    facilitated = [
        c
        for c in await _all(
            session,
            select(Cohort)
            .where(col(Cohort.organisation_id) == trainee.organisation_id)
            .order_by(col(Cohort.starts_on)),
        )
        if tid in c.facilitator_trainee_ids
    ]
    competencies = await _all(
        session,
        select(CompetencyAssessment)
        .where(under(col(CompetencyAssessment.trainee_id), trainee))
        .order_by(col(CompetencyAssessment.assessed_on)),
    )
    log = await _all(
        session,
        select(AuditEntry)
        .where(
            col(AuditEntry.organisation_id) == trainee.organisation_id,
            col(AuditEntry.entity_id) == trainee.id,
        )
        .order_by(col(AuditEntry.at)),
    )
    return TraineeSubjectAccess(
        generated_at=utcnow(),
        generated_by=principal.subject,
        trainee=trainees_service.to_read(trainee, keyring),
        cohorts=await _cohorts(session, trainee),
        cohorts_facilitated=[
            CohortFacilitated(
                cohort_id=c.id, title=c.title, starts_on=c.starts_on, ends_on=c.ends_on
            )
            for c in facilitated
        ],
        competency_assessments=[
            CompetencyRecord.model_validate(c) for c in competencies
        ],
        supervision=supervision,
        practice_groups_facilitated=await _groups(session, keyring, trainee),
        access_log=[AccessLogEntry.model_validate(e) for e in log],
    )


async def _cohorts(session: AsyncSession, trainee: Trainee) -> list[CohortRecord]:
    enrolled = await session.execute(
        select(Cohort, Course)
        .join(CohortEnrolment, under(col(CohortEnrolment.cohort_id), Cohort))
        .join(Course, col(Course.id) == Cohort.course_id)
        .where(under(col(CohortEnrolment.trainee_id), trainee))
        .order_by(col(Cohort.starts_on))
    )
    found = []
    for cohort, course in enrolled.all():
        sessions = await _all(
            session,
            select(CohortSession)
            .where(under(col(CohortSession.cohort_id), cohort))
            .order_by(col(CohortSession.number)),
        )
        present = {
            a.session_id: a.present
            for a in await _all(
                session,
                select(Attendance).where(
                    under(col(Attendance.trainee_id), trainee),
                    col(Attendance.session_id).in_([s.id for s in sessions]),
                ),
            )
        }
        tests = await _all(
            session,
            select(KnowledgeTest)
            .where(
                under(col(KnowledgeTest.cohort_id), cohort),
                col(KnowledgeTest.trainee_id) == trainee.id,
            )
            .order_by(col(KnowledgeTest.taken_on)),
        )
        certification = (
            await session.execute(
                select(Certification).where(
                    under(col(Certification.cohort_id), cohort),
                    col(Certification.trainee_id) == trainee.id,
                )
            )
        ).scalar_one_or_none()
        found.append(
            CohortRecord(
                cohort_id=cohort.id,
                title=cohort.title,
                course=course.title,
                level=str(course.level),
                starts_on=cohort.starts_on,
                ends_on=cohort.ends_on,
                sessions=[
                    SessionAttended(
                        number=s.number,
                        held_on=s.held_on,
                        hours=s.hours,
                        topic=s.topic,
                        present=present.get(s.id),
                    )
                    for s in sessions
                ],
                tests=[
                    TestTaken(kind=str(t.kind), score=t.score, taken_on=t.taken_on)
                    for t in tests
                ],
                certified_on=certification.certified_on if certification else None,
                certified_by=certification.certified_by if certification else None,
            )
        )
    return found


def _supervision(row: SupervisionSession, keyring: KeyRing) -> SupervisionRecord:
    alone = len(row.supervisee_trainee_ids) == 1
    return SupervisionRecord(
        id=row.id,
        supervisor=row.supervisor,
        kind=row.kind,
        mode=row.mode,
        held_on=row.held_on,
        duration_minutes=row.duration_minutes,
        other_supervisees=len(row.supervisee_trainee_ids) - 1,
        cases_discussed=row.cases_discussed,
        notes=keyring.decrypt(row.notes_enc, f"supervision:{row.id}:notes")
        if alone
        else None,
        notes_withheld=not alone and row.notes_enc is not None,
    )


async def _groups(
    session: AsyncSession, keyring: KeyRing, trainee: Trainee
) -> list[PracticeGroupFacilitated]:
    tid = str(trainee.id)
    groups = [
        g
        for g in await _all(
            session,
            select(PracticeGroup)
            .where(col(PracticeGroup.organisation_id) == trainee.organisation_id)
            .order_by(col(PracticeGroup.started_on)),
        )
        if tid in g.facilitator_trainee_ids
    ]
    found = []
    for group in groups:
        alone = len(group.facilitator_trainee_ids) == 1
        held = await session.execute(
            select(PracticeSession, FidelityReview)
            .outerjoin(
                FidelityReview, col(FidelityReview.session_id) == PracticeSession.id
            )
            .where(under(col(PracticeSession.group_id), group))
            .order_by(col(PracticeSession.number))
        )
        rows = held.all()
        found.append(
            PracticeGroupFacilitated(
                group_id=group.id,
                name=group.name,
                approach=group.approach,
                started_on=group.started_on,
                co_facilitators=len(group.facilitator_trainee_ids) - 1,
                clients=len(group.client_ids),
                sessions=len({s.id for s, _ in rows}),
                fidelity_reviews=[
                    ReviewRecord(
                        session_number=s.number,
                        reviewed_on=r.reviewed_on,
                        reviewer=r.reviewer,
                        checklist=r.checklist,
                        adherence_score=r.adherence_score,
                        feedback=keyring.decrypt(
                            r.feedback_enc, f"fidelity:{r.id}:feedback"
                        )
                        if alone
                        else None,
                        feedback_withheld=not alone and r.feedback_enc is not None,
                    )
                    for s, r in rows
                    if r is not None
                ],
            )
        )
    return found


async def _all(session: AsyncSession, statement: Any) -> list[Any]:
    return list((await session.execute(statement)).scalars())


log = structlog.get_logger(__name__)


class _OrganisationLanguage(BaseModel):
    """The part of the beneficiary service's organisation this reads."""

    default_language: str = "en"


async def document_language(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    lang: LangQuery = None,
) -> Language:
    """The document's language: ``lang``, else Accept-Language, else the
    caller's organisation's default language, asked of the beneficiary
    service (which keeps organisations) only when the request names none;
    English when it cannot answer, since a document is complete in any
    language."""
    default = None
    if asked(lang, request.headers.get("accept-language")) is None:
        settings = runtime.settings
        assert isinstance(settings, TrainingSettings)
        try:
            found = await settings.beneficiary.get(
                runtime,
                f"/v1/organisations/{principal.organisation_id}",
                _OrganisationLanguage,
                organisation_id=principal.organisation_id,
            )
            default = found.default_language
        except PeerUnavailable:
            log.warning("organisation_language_unavailable")
    return chosen_language(request, response, lang, default)


DocumentLanguage = Annotated[Language, Depends(document_language)]
