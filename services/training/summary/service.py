"""The training summary a programme reports, for one cohort or for the whole
programme over a period."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import date

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.training.cohorts import service as cohorts_service
from services.training.cohorts.models import Attendance, Cohort, CohortSession
from services.training.courses.models import Course
from services.training.practice.models import (
    FidelityReview,
    PracticeGroup,
    PracticeSession,
)
from services.training.results import service as results_service
from services.training.results.models import Certification
from services.training.supervision.models import SupervisionSession
from services.training.trainees.models import Trainee
from shared.auth import Principal
from shared.contracts.enums import CourseLevel


class TrainingSummary(BaseModel):
    """An organisation's training figures."""

    cohorts: int
    people_trained: int = Field(description="Distinct trainees present at least once.")
    by_sex: dict[str, int]
    by_audience: dict[str, int]
    hours_delivered: float = Field(description="Sum of session hours held.")
    enrolled: int = Field(description="Enrolments (a person in two cohorts: two).")
    completion_rate: float | None = Field(description="Per enrolment, by criteria.")
    certification_rate: float | None = Field(
        description="Certificates issued (POST …/certify) per enrolment."
    )
    mean_pre_test: float | None
    mean_post_test: float | None
    mean_test_change: float | None = Field(
        description="Mean post minus pre, over trainees with both."
    )
    tot_trainers_certified: int = Field(description="Distinct people.")
    supervision_sessions: int
    supervision_hours: float
    activities_by_audience: dict[str, int] = Field(
        description="Capacity-building activities (cohorts and supervision "
        "sessions) counted once for each audience among their participants."
    )
    practice_groups: int
    practice_sessions: int
    recorded_sessions: int
    practice_clients: int = Field(
        description="Distinct clients who attended a session in the period."
    )
    fidelity_reviews: int
    mean_fidelity: float | None
    fidelity_trend: dict[str, float] = Field(
        description="Mean adherence score by month of the session (YYYY-MM)."
    )


async def summary(
    session: AsyncSession,
    principal: Principal,
    *,
    cohort_id: uuid.UUID | None,
    date_from: date | None,
    date_to: date | None,
) -> TrainingSummary:
    if cohort_id is not None:
        cohorts = [await cohorts_service.get_cohort(session, principal, cohort_id)]
    else:
        statement = select(Cohort).where(
            col(Cohort.organisation_id) == principal.organisation_id
        )
        if date_from is not None:
            statement = statement.where(col(Cohort.ends_on) >= date_from)
        if date_to is not None:
            statement = statement.where(col(Cohort.starts_on) <= date_to)
        cohorts = list((await session.execute(statement)).scalars())
    ids = [c.id for c in cohorts]
    ours = principal.organisation_id  # ids are unique per organisation only
    sessions = list(
        (
            await session.execute(
                select(CohortSession).where(
                    col(CohortSession.organisation_id) == ours,
                    col(CohortSession.cohort_id).in_(ids),
                )
            )
        ).scalars()
    )
    if date_from is not None:
        sessions = [s for s in sessions if s.held_on >= date_from]
    if date_to is not None:
        sessions = [s for s in sessions if s.held_on <= date_to]
    present = set(
        (
            await session.execute(
                select(col(Attendance.trainee_id)).where(
                    col(Attendance.session_id).in_([s.id for s in sessions]),
                    col(Attendance.present).is_(True),
                )
            )
        ).scalars()
    )
    trainees = list(
        (
            await session.execute(
                select(Trainee).where(
                    col(Trainee.organisation_id) == ours, col(Trainee.id).in_(present)
                )
            )
        ).scalars()
    )
    judged = [
        r for c in ids for r in await results_service.results(session, principal, c)
    ]
    with_both = [
        r for r in judged if r.pre_test is not None and r.post_test is not None
    ]
    pre = [r.pre_test for r in judged if r.pre_test is not None]
    post = [r.post_test for r in judged if r.post_test is not None]
    tot_cohorts = [
        c.id
        for c in cohorts
        if (course := await session.get(Course, c.course_id)) is not None
        and course.level == CourseLevel.tot
    ]
    certifications = list(
        (
            await session.execute(
                select(Certification).where(
                    col(Certification.organisation_id) == ours,
                    col(Certification.cohort_id).in_(ids),
                )
            )
        ).scalars()
    )
    tot_certified = len(
        {c.trainee_id for c in certifications if c.cohort_id in set(tot_cohorts)}
    )
    supervision = select(SupervisionSession).where(
        col(SupervisionSession.organisation_id) == principal.organisation_id
    )
    if date_from is not None:
        supervision = supervision.where(col(SupervisionSession.held_on) >= date_from)
    if date_to is not None:
        supervision = supervision.where(col(SupervisionSession.held_on) <= date_to)
    supervised = list((await session.execute(supervision)).scalars())
    if cohort_id is not None:  # only supervision of this cohort's trainees
        members = {
            str(m) for m in await cohorts_service.enrolled_trainees(session, cohorts[0])
        }
        supervised = [s for s in supervised if members & set(s.supervisee_trainee_ids)]
    groups_statement = select(PracticeGroup).where(
        col(PracticeGroup.organisation_id) == principal.organisation_id
    )
    if cohort_id is not None:
        groups_statement = groups_statement.where(
            col(PracticeGroup.cohort_id) == cohort_id
        )
    groups = list((await session.execute(groups_statement)).scalars())
    practice = [
        s
        for s in (
            await session.execute(
                select(PracticeSession).where(
                    col(PracticeSession.organisation_id) == ours,
                    col(PracticeSession.group_id).in_([g.id for g in groups]),
                )
            )
        ).scalars()
        if (date_from is None or s.held_on >= date_from)
        and (date_to is None or s.held_on <= date_to)
    ]
    held_on = {s.id: s.held_on for s in practice}
    if date_from is not None or date_to is not None:  # groups active in the period
        active = {s.group_id for s in practice}
        groups = [g for g in groups if g.id in active]
    clients = {c for s in practice for c in s.attended_client_ids}
    reviews = list(
        (
            await session.execute(
                select(FidelityReview).where(
                    col(FidelityReview.organisation_id) == ours,
                    col(FidelityReview.session_id).in_(list(held_on)),
                )
            )
        ).scalars()
    )
    by_month: dict[str, list[float]] = defaultdict(list)
    for review in reviews:
        by_month[held_on[review.session_id].strftime("%Y-%m")].append(
            review.adherence_score
        )
    audience_of = {
        t.id: str(t.audience)
        for t in (
            await session.execute(
                select(Trainee).where(
                    col(Trainee.organisation_id) == principal.organisation_id
                )
            )
        ).scalars()
    }
    activities: Counter[str] = Counter()
    for c in cohorts:
        enrolled_ids = await cohorts_service.enrolled_trainees(session, c)
        activities.update({audience_of[m] for m in enrolled_ids if m in audience_of})
    for s in supervised:
        activities.update(
            {
                audience_of[uuid.UUID(t)]
                for t in s.supervisee_trainee_ids
                if uuid.UUID(t) in audience_of
            }
        )
    return TrainingSummary(
        cohorts=len(cohorts),
        people_trained=len(trainees),
        by_sex=dict(Counter(str(t.sex) for t in trainees)),
        by_audience=dict(Counter(str(t.audience) for t in trainees)),
        hours_delivered=round(sum(s.hours for s in sessions), 2),
        enrolled=len(judged),
        completion_rate=_share(sum(r.completed for r in judged), len(judged)),
        certification_rate=_share(len(certifications), len(judged)),
        mean_pre_test=_mean(pre),
        mean_post_test=_mean(post),
        mean_test_change=_mean(
            [(r.post_test or 0) - (r.pre_test or 0) for r in with_both]
        ),
        tot_trainers_certified=tot_certified,
        supervision_sessions=len(supervised),
        supervision_hours=round(sum(s.duration_minutes for s in supervised) / 60, 2),
        activities_by_audience=dict(activities),
        practice_groups=len(groups),
        practice_sessions=len(practice),
        recorded_sessions=sum(s.recording_ref is not None for s in practice),
        practice_clients=len(clients),
        fidelity_reviews=len(reviews),
        mean_fidelity=_mean([r.adherence_score for r in reviews]),
        fidelity_trend={
            month: _mean(scores) or 0.0 for month, scores in sorted(by_month.items())
        },
    )


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None
