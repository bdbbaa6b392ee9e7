"""The Training-of-Trainers cascade: trainees certified in a ToT cohort are
trainers; the cohorts they facilitate are the next generation, and so on, so
a cascade's reach is counted generation by generation."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.training.cohorts import service as cohorts_service
from services.training.cohorts.models import Cohort, CohortEnrolment
from services.training.courses.models import Course
from services.training.results.models import Certification
from shared.auth import Principal
from shared.contracts.enums import CourseLevel
from shared.db import under
from shared.errors import FieldError, Invalid

MAX_GENERATIONS = 10


class Generation(BaseModel):
    """Generation 0 is the ToT cohort itself (its participants are reached)."""

    number: int
    cohorts: list[uuid.UUID]
    trainees_reached: int
    trainers_certified: int


class Cascade(BaseModel):
    """How far a cohort's training reached through the generations it trained."""

    root_cohort_id: uuid.UUID
    generations: list[Generation]
    total_reached: int


async def cascade(
    session: AsyncSession, principal: Principal, root_cohort_id: uuid.UUID
) -> Cascade:
    """From a ToT cohort: who it certified as trainers, the cohorts those
    trainers facilitated, the trainees those cohorts reached, and onwards."""
    root = await cohorts_service.get_cohort(session, principal, root_cohort_id)
    course = await session.get(Course, root.course_id)
    if course is None or course.level != CourseLevel.tot:
        raise Invalid(
            "A cascade starts from a Training-of-Trainers cohort.",
            errors=[FieldError(loc=["path", "cohort_id"], msg="not a ToT", type="tot")],
        )
    generations: list[Generation] = []
    frontier = [root.id]
    seen_cohorts: set[uuid.UUID] = set()
    reached: set[uuid.UUID] = set()
    for number in range(MAX_GENERATIONS):
        frontier = [c for c in frontier if c not in seen_cohorts]
        if not frontier:
            break
        seen_cohorts.update(frontier)
        trainees = set(
            (
                await session.execute(
                    select(col(CohortEnrolment.trainee_id)).where(
                        col(CohortEnrolment.organisation_id) == root.organisation_id,
                        col(CohortEnrolment.cohort_id).in_(frontier),
                    )
                )
            ).scalars()
        )
        trainers = await _certified_trainers(session, root.organisation_id, frontier)
        generations.append(
            Generation(
                number=number,
                cohorts=sorted(frontier),
                trainees_reached=len(trainees - reached),
                trainers_certified=len(trainers),
            )
        )
        reached |= trainees
        frontier = await _facilitated_by(session, principal, trainers)
    return Cascade(
        root_cohort_id=root.id, generations=generations, total_reached=len(reached)
    )


async def _certified_trainers(
    session: AsyncSession, organisation_id: uuid.UUID, cohort_ids: list[uuid.UUID]
) -> dict[str, date]:
    """Trainees certified in the organisation's ToT cohorts among
    ``cohort_ids``, with the date they became trainers."""
    rows = await session.execute(
        select(col(Certification.trainee_id), col(Certification.certified_on))
        .join(
            Cohort,
            under(col(Certification.cohort_id), Cohort),
        )
        .join(Course, col(Course.id) == col(Cohort.course_id))
        .where(
            col(Certification.organisation_id) == organisation_id,
            col(Certification.cohort_id).in_(cohort_ids),
            col(Course.level) == CourseLevel.tot,
        )
    )
    return {str(t): on for t, on in rows.all()}


async def _facilitated_by(
    session: AsyncSession, principal: Principal, trainers: dict[str, date]
) -> list[uuid.UUID]:
    """Cohorts a trainer facilitated once certified (earlier ones are not
    the cascade's reach)."""
    if not trainers:
        return []
    rows = await session.execute(
        select(Cohort).where(col(Cohort.organisation_id) == principal.organisation_id)
    )
    return [
        c.id
        for c in rows.scalars()
        if any(
            t in trainers and c.starts_on >= trainers[t]
            for t in c.facilitator_trainee_ids
        )
    ]
