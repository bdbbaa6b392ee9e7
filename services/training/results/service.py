"""Knowledge tests, competency assessments, and completion and certification
judged by the course's explicit criteria."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.training.cohorts import service as cohorts_service
from services.training.courses.models import Course
from services.training.courses.service import CourseCriteria
from services.training.db import OutboxEvent
from services.training.practice import service as practice_service
from services.training.results.models import (
    Certification,
    CompetencyAssessment,
    KnowledgeTest,
    KnowledgeTestKind,
    PublishedResult,
)
from services.training.supervision import service as supervision_service
from services.training.trainees import service as trainees_service
from shared.auth import Principal
from shared.contracts.events import CompetencyFacts, EventType, ResultFacts
from shared.contracts.text import Text
from shared.db import under
from shared.errors import Conflict, FieldError, Invalid
from shared.outbox import add_event
from shared.scoping import get_in_scope
from shared.taxonomy.competency import competency_tools


class TestScore(BaseModel):
    """One trainee's score on a knowledge test."""

    model_config = ConfigDict(extra="forbid")

    trainee_id: uuid.UUID
    score: float = Field(ge=0, le=100)


class TestsWrite(BaseModel):
    """A cohort's knowledge test results."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "pre",
                    "taken_on": "2026-03-01",
                    "results": [
                        {
                            "trainee_id": "13bf1ae2-53b4-42e6-a4ce-157aa0cbfe97",
                            "score": 50,
                        },
                        {
                            "trainee_id": "7de5e6cd-e7ce-4350-a7c3-b1f6e3d432c8",
                            "score": 50,
                        },
                    ],
                }
            ]
        },
        extra="forbid",
    )

    kind: KnowledgeTestKind
    taken_on: date
    results: list[TestScore] = Field(min_length=1, max_length=1000)


class CertificationWrite(BaseModel):
    """The date a cohort's certificates are issued on, and optionally whom."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"on": "2026-03-12"}]}
    )

    on: date
    trainee_ids: list[uuid.UUID] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Certify these trainees: refused (422, each unmet "
        "criterion listed, nothing written) unless every one meets every "
        "criterion. Without it, whoever meets them all is certified.",
    )


class CompetencyWrite(BaseModel):
    """Ratings of a trainee on a competency tool's items."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "trainee_id": "a5aeac72-2ad5-431b-a643-f32e33a27af9",
                    "tool": "helping_skills_core@1.0",
                    "mode": "role_play",
                    "context": "post",
                    "assessed_on": "2026-03-05",
                    "ratings": {
                        "non_verbal_communication": 3,
                        "verbal_communication": 3,
                        "rapport_building": 3,
                        "exploring_feelings": 3,
                        "empathy": 3,
                        "impact_on_functioning": 3,
                        "client_explanation": 3,
                        "involving_family": 3,
                        "collaborative_goals": 3,
                        "promoting_hope": 3,
                        "coping_mechanisms": 3,
                        "psychoeducation": 3,
                        "eliciting_feedback": 3,
                        "confidentiality": 3,
                        "suicide_self_harm_assessment": 3,
                    },
                    "id": "d665af7b-c80c-487d-888c-83d9a511b890",
                }
            ]
        },
        extra="forbid",
    )

    id: uuid.UUID | None = None
    trainee_id: uuid.UUID
    cohort_id: uuid.UUID | None = None
    tool: Text = Field(max_length=64, description="code@version")
    mode: Literal["role_play", "live", "recording"]
    context: Literal["pre", "post", "supervision"]
    assessed_on: date
    ratings: dict[str, int] = Field(max_length=100)


class CompetencyRead(BaseModel):
    """A competency assessment of a trainee, with its overall level."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    trainee_id: uuid.UUID
    tool: str
    mode: str
    context: str
    assessed_on: date
    ratings: dict[str, int]
    harmful_items: list[str]
    overall_level: int


class TraineeResult(BaseModel):
    """A trainee's result in a cohort and why they did or did not complete."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "trainee_id": "b1506abd-8a24-4cc2-bd9d-163978fae54b",
                    "attendance_share": 1.0,
                    "hours_completed": 12.0,
                    "pre_test": 40.0,
                    "post_test": 80.0,
                    "competency_level": None,
                    "completed": True,
                    "certified": True,
                    "reasons": [],
                }
            ]
        }
    )

    trainee_id: uuid.UUID
    attendance_share: float
    hours_completed: float
    pre_test: float | None
    post_test: float | None
    competency_level: int | None
    supervised_sessions: int = Field(
        default=0,
        description="Supervised practice sessions facilitated in the "
        "cohort's practice groups.",
    )
    mean_fidelity: float | None = Field(
        default=None, description="Mean adherence score of their reviews."
    )
    supervision_hours: float = Field(
        default=0.0, description="Clinical supervision received from the start."
    )
    completed: bool
    certified: bool
    reasons: list[str] = Field(description="Why a criterion is not met.")


async def record_tests(
    session: AsyncSession, principal: Principal, cohort_id: uuid.UUID, data: TestsWrite
) -> None:
    """Pre- or post-test scores; a score sent again replaces the earlier one."""
    cohort = await cohorts_service.get_cohort(session, principal, cohort_id, lock=True)
    enrolled = await cohorts_service.enrolled_trainees(session, cohort)
    strangers = [i for i, r in enumerate(data.results) if r.trainee_id not in enrolled]
    if strangers:
        raise Invalid(
            "Some trainees are not enrolled in this cohort.",
            errors=[
                FieldError(
                    loc=["body", "results", i], msg="not enrolled", type="enrolment"
                )
                for i in strangers
            ],
        )
    for result in data.results:
        existing = (
            await session.execute(
                select(KnowledgeTest).where(
                    under(col(KnowledgeTest.cohort_id), cohort),
                    col(KnowledgeTest.trainee_id) == result.trainee_id,
                    col(KnowledgeTest.kind) == data.kind,
                )
            )
        ).scalar_one_or_none()
        if existing is None:
            session.add(
                KnowledgeTest(
                    organisation_id=cohort.organisation_id,
                    cohort_id=cohort.id,
                    trainee_id=result.trainee_id,
                    kind=data.kind,
                    score=result.score,
                    taken_on=data.taken_on,
                )
            )
        else:
            existing.score, existing.taken_on = result.score, data.taken_on
    await session.flush()


async def assess_competency(
    session: AsyncSession, principal: Principal, data: CompetencyWrite
) -> tuple[CompetencyAssessment, bool]:
    """Rate every item of the tool; harmful behaviours are flagged and set
    the overall level to the lowest rating. The same client id sent again
    with the same assessment answers the first one (``False``: nothing new);
    with another assessment it is a 409."""
    await trainees_service.get_trainee(session, principal, data.trainee_id)
    if data.cohort_id is not None:
        await cohorts_service.get_cohort(session, principal, data.cohort_id)
    tool = competency_tools().get(data.tool)
    if tool is None:
        raise Invalid(
            "Unknown competency tool.",
            errors=[FieldError(loc=["body", "tool"], msg="unknown", type="unknown")],
        )
    problems = tool.rating_errors(data.ratings)
    if problems:
        raise Invalid(
            "The ratings do not fit the tool.",
            errors=[
                FieldError(loc=["body", "ratings", item], msg=msg, type="rating")
                for item, msg in problems
            ],
        )
    assessment_id = data.id or uuid.uuid4()
    existing = await session.get(
        CompetencyAssessment, (principal.organisation_id, assessment_id)
    )
    if existing is not None:
        if _assessed(existing) != _asked(data, tool.key):
            raise Conflict("A competency assessment with this id exists already.")
        return existing, False
    assessment = CompetencyAssessment(
        id=assessment_id,
        organisation_id=principal.organisation_id,
        cohort_id=data.cohort_id,
        trainee_id=data.trainee_id,
        tool=tool.key,
        mode=data.mode,
        context=data.context,
        assessed_on=data.assessed_on,
        assessor=principal.subject,
        ratings=data.ratings,
        harmful_items=sorted(
            item for item, level in data.ratings.items() if level <= tool.harmful_level
        ),
        overall_level=min(data.ratings.values()),
    )
    session.add(assessment)
    add_event(
        session,
        OutboxEvent,
        type=EventType.competency_assessed,
        organisation_id=assessment.organisation_id,
        entity_type="competency_assessment",
        entity_id=assessment.id,
        facts=CompetencyFacts(
            assessment_id=assessment.id,
            trainee_id=assessment.trainee_id,
            organisation_id=assessment.organisation_id,
            cohort_id=assessment.cohort_id,
            tool=assessment.tool,
            mode=assessment.mode,
            context=assessment.context,
            assessed_on=assessment.assessed_on,
            overall_level=assessment.overall_level,
            harmful=bool(assessment.harmful_items),
        ),
    )
    await session.flush()
    return assessment, True


def _assessed(row: CompetencyAssessment) -> tuple[object, ...]:
    return (
        row.trainee_id,
        row.cohort_id,
        row.tool,
        row.mode,
        row.context,
        row.assessed_on,
        row.ratings,
    )


def _asked(data: CompetencyWrite, tool: str) -> tuple[object, ...]:
    return (
        data.trainee_id,
        data.cohort_id,
        tool,
        data.mode,
        data.context,
        data.assessed_on,
        data.ratings,
    )


async def get_assessment(
    session: AsyncSession, principal: Principal, assessment_id: uuid.UUID
) -> CompetencyAssessment:
    return await get_in_scope(
        session,
        principal,
        CompetencyAssessment,
        assessment_id,
        what="competency assessment",
    )


async def results(
    session: AsyncSession, principal: Principal, cohort_id: uuid.UUID
) -> list[TraineeResult]:
    """Every enrolled trainee judged against the course's criteria."""
    cohort = await cohorts_service.get_cohort(session, principal, cohort_id)
    course = await session.get(Course, cohort.course_id)
    assert course is not None
    criteria = CourseCriteria.model_validate(course.criteria)
    tests = {
        (t.trainee_id, t.kind): t.score
        for t in (
            await session.execute(
                select(KnowledgeTest).where(under(col(KnowledgeTest.cohort_id), cohort))
            )
        ).scalars()
    }
    latest_level: dict[uuid.UUID, int] = {}
    for a in (
        await session.execute(
            select(CompetencyAssessment)
            .where(under(col(CompetencyAssessment.cohort_id), cohort))
            .order_by(
                col(CompetencyAssessment.assessed_on),
                col(CompetencyAssessment.created_at),
            )
        )
    ).scalars():
        if criteria.competency_tool in (None, a.tool):
            latest_level[a.trainee_id] = a.overall_level
    practised = await practice_service.facilitated(
        session, cohort.organisation_id, cohort.id
    )
    hours = await supervision_service.supervision_hours(
        session, cohort.organisation_id, cohort.starts_on
    )
    judged = []
    for p in await cohorts_service.progress(session, principal, cohort_id):
        pre = tests.get((p.trainee_id, KnowledgeTestKind.pre))
        post = tests.get((p.trainee_id, KnowledgeTestKind.post))
        level = latest_level.get(p.trainee_id)
        reasons = []
        if p.attendance_share < criteria.min_attendance_share:
            share, needed = p.attendance_share, criteria.min_attendance_share
            reasons.append(f"attendance {share:.0%} < {needed:.0%}")
        if criteria.min_post_test_score is not None and (
            post is None or post < criteria.min_post_test_score
        ):
            reasons.append(f"post-test below {criteria.min_post_test_score:g}")
        completed = not reasons
        if criteria.min_competency_level is not None and (
            level is None or level < criteria.min_competency_level
        ):
            reasons.append(f"competency below level {criteria.min_competency_level}")
        sessions, scores = practised.get(str(p.trainee_id), (0, []))
        fidelity = round(sum(scores) / len(scores), 1) if scores else None
        supervised = round(hours.get(str(p.trainee_id), 0.0), 2)
        reasons.extend(_practice_unmet(criteria, sessions, fidelity, supervised))
        judged.append(
            TraineeResult(
                trainee_id=p.trainee_id,
                attendance_share=p.attendance_share,
                hours_completed=p.hours_completed,
                pre_test=pre,
                post_test=post,
                competency_level=level,
                supervised_sessions=sessions,
                mean_fidelity=fidelity,
                supervision_hours=supervised,
                completed=completed,
                certified=not reasons,
                reasons=reasons,
            )
        )
    return judged


def _practice_unmet(
    criteria: CourseCriteria,
    sessions: int,
    fidelity: float | None,
    hours: float,
) -> list[str]:
    """Why the supervised practice criteria are not met, if they are not."""
    unmet = []
    if (
        criteria.min_supervised_sessions is not None
        and sessions < criteria.min_supervised_sessions
    ):
        unmet.append(
            f"supervised sessions {sessions} < {criteria.min_supervised_sessions}"
        )
    if criteria.min_mean_fidelity is not None and (
        fidelity is None or fidelity < criteria.min_mean_fidelity
    ):
        mean = "none reviewed" if fidelity is None else f"{fidelity:g}"
        unmet.append(f"mean fidelity {mean} < {criteria.min_mean_fidelity:g}")
    if (
        criteria.min_supervision_hours is not None
        and hours < criteria.min_supervision_hours
    ):
        unmet.append(
            f"supervision hours {hours:g} < {criteria.min_supervision_hours:g}"
        )
    return unmet


async def certify(
    session: AsyncSession,
    principal: Principal,
    cohort_id: uuid.UUID,
    on: date,
    trainee_ids: list[uuid.UUID] | None = None,
) -> list[TraineeResult]:
    """Close the cohort's results: certify who meets every criterion (once)
    and emit each trainee's result for reporting. Named trainees must each
    meet every criterion, or nothing is certified."""
    cohort = await cohorts_service.get_cohort(session, principal, cohort_id, lock=True)
    course = await session.get(Course, cohort.course_id)
    assert course is not None
    judged = await results(session, principal, cohort_id)
    if trainee_ids is not None:
        _all_met(judged, trainee_ids)
    certified = {
        c.trainee_id
        for c in (
            await session.execute(
                select(Certification).where(under(col(Certification.cohort_id), cohort))
            )
        ).scalars()
    }
    published = {
        p.trainee_id: p
        for p in (
            await session.execute(
                select(PublishedResult).where(
                    under(col(PublishedResult.cohort_id), cohort)
                )
            )
        ).scalars()
    }
    for r in judged:
        if r.certified and r.trainee_id not in certified:
            session.add(
                Certification(
                    organisation_id=cohort.organisation_id,
                    cohort_id=cohort.id,
                    trainee_id=r.trainee_id,
                    certified_on=on,
                    certified_by=principal.subject,
                )
            )
        state = (r.completed, r.certified, r.pre_test, r.post_test, r.competency_level)
        last = published.get(r.trainee_id)
        if last is not None and state == (
            last.completed,
            last.certified,
            last.pre_test,
            last.post_test,
            last.competency_level,
        ):
            continue  # nothing new to publish
        if last is None:
            session.add(
                PublishedResult(
                    organisation_id=cohort.organisation_id,
                    cohort_id=cohort.id,
                    trainee_id=r.trainee_id,
                    completed=r.completed,
                    certified=r.certified,
                    pre_test=r.pre_test,
                    post_test=r.post_test,
                    competency_level=r.competency_level,
                )
            )
        else:
            last.completed, last.certified = r.completed, r.certified
            last.pre_test, last.post_test = r.pre_test, r.post_test
            last.competency_level = r.competency_level
        add_event(
            session,
            OutboxEvent,
            type=EventType.training_result_recorded,
            organisation_id=cohort.organisation_id,
            entity_type="cohort",
            entity_id=cohort.id,
            facts=ResultFacts(
                cohort_id=cohort.id,
                trainee_id=r.trainee_id,
                organisation_id=cohort.organisation_id,
                course_id=course.id,
                course_level=course.level,
                decided_on=on,
                completed=r.completed,
                certified=r.certified,
                pre_test=r.pre_test,
                post_test=r.post_test,
                competency_level=r.competency_level,
                project_id=cohort.project_id,
            ),
        )
    await session.flush()
    return judged


def _all_met(judged: list[TraineeResult], trainee_ids: list[uuid.UUID]) -> None:
    """Refuse, listing each unmet criterion, unless every named trainee of
    the cohort meets every criterion."""
    by_id = {r.trainee_id: r for r in judged}
    errors = []
    for i, trainee_id in enumerate(trainee_ids):
        found = by_id.get(trainee_id)
        if found is None:
            errors.append(
                FieldError(
                    loc=["body", "trainee_ids", i], msg="not enrolled", type="trainee"
                )
            )
        else:
            errors.extend(
                FieldError(loc=["body", "trainee_ids", i], msg=reason, type="criterion")
                for reason in found.reasons
            )
    if errors:
        raise Invalid("Some trainees do not meet the course's criteria.", errors=errors)
