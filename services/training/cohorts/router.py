from __future__ import annotations

import uuid

from fastapi import APIRouter, Body

from services.training.cohorts import service as cohorts_service
from services.training.cohorts.service import (
    AttendanceWrite,
    CohortCreate,
    CohortRead,
    SessionCreate,
    TraineeProgress,
)
from services.training.db import AuditEntry
from services.training.outbox.jobs import announce_writes
from services.training.trainees.router import TrainingActor
from shared.app import RuntimeDep
from shared.audit import record_access
from shared.db import SessionDep
from shared.errors import Conflict, Invalid, NotFound, problem_responses

router = APIRouter(prefix="/v1/cohorts", tags=["cohorts"])


@router.post(
    "",
    status_code=201,
    response_model=CohortRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def create_cohort(
    body: CohortCreate, session: SessionDep, actor: TrainingActor
) -> CohortRead:
    """A training event: a run of a course with dates, modality and facilitators."""
    async with session.begin():
        cohort = await cohorts_service.create_cohort(session, actor.principal, body)
        return await cohorts_service.to_read(session, cohort)


@router.get(
    "/{cohort_id}", response_model=CohortRead, responses=problem_responses(NotFound)
)
async def get_cohort(
    cohort_id: uuid.UUID, session: SessionDep, actor: TrainingActor
) -> CohortRead:
    async with session.begin():
        cohort = await cohorts_service.get_cohort(session, actor.principal, cohort_id)
        return await cohorts_service.to_read(session, cohort)


@router.post(
    "/{cohort_id}/enrolments",
    response_model=CohortRead,
    responses=problem_responses(NotFound, Invalid),
)
async def enrol(
    cohort_id: uuid.UUID,
    session: SessionDep,
    actor: TrainingActor,
    trainee_ids: list[uuid.UUID] = Body(embed=True, max_length=1000),  # noqa: B008
) -> CohortRead:
    """Enrol trainees (enrolling someone twice changes nothing)."""
    async with session.begin():
        cohort = await cohorts_service.enrol(
            session, actor.principal, cohort_id, trainee_ids
        )
        record_access(
            session,
            AuditEntry,
            actor,
            action="enrol",
            entity_type="trainee",
            entity_ids=trainee_ids,
        )
        return await cohorts_service.to_read(session, cohort)


@router.post(
    "/{cohort_id}/sessions",
    status_code=201,
    response_model=CohortRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def add_session(
    cohort_id: uuid.UUID, body: SessionCreate, session: SessionDep, actor: TrainingActor
) -> CohortRead:
    async with session.begin():
        await cohorts_service.add_session(session, actor.principal, cohort_id, body)
        cohort = await cohorts_service.get_cohort(session, actor.principal, cohort_id)
        return await cohorts_service.to_read(session, cohort)


@router.put(
    "/{cohort_id}/sessions/{number}/attendance",
    response_model=list[TraineeProgress],
    responses=problem_responses(NotFound, Invalid),
)
async def record_attendance(
    cohort_id: uuid.UUID,
    number: int,
    body: AttendanceWrite,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
) -> list[TraineeProgress]:
    """Who attended the session; everyone else enrolled is marked absent."""
    async with session.begin():
        await cohorts_service.record_attendance(
            session, actor.principal, cohort_id, number, body
        )
        result = await cohorts_service.progress(session, actor.principal, cohort_id)
    await announce_writes(runtime)
    return result


@router.get(
    "/{cohort_id}/progress",
    response_model=list[TraineeProgress],
    responses=problem_responses(NotFound),
)
async def progress(
    cohort_id: uuid.UUID, session: SessionDep, actor: TrainingActor
) -> list[TraineeProgress]:
    """Per trainee: sessions attended, hours completed, attendance share."""
    async with session.begin():
        return await cohorts_service.progress(session, actor.principal, cohort_id)
