"""HTTP API for results: record knowledge tests and competency assessments,
read each trainee against the course's criteria, and certify (certifying twice
changes nothing).
"""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Body

from services.training.db import AuditEntry
from services.training.outbox.jobs import announce_writes
from services.training.results import service as results_service
from services.training.results.service import (
    CompetencyRead,
    CompetencyWrite,
    TestsWrite,
    TraineeResult,
)
from services.training.trainees.router import TrainingActor
from shared.app import RuntimeDep
from shared.audit import record_access
from shared.db import SessionDep
from shared.errors import Invalid, NotFound, problem_responses

router = APIRouter(tags=["results"])


@router.post(
    "/v1/cohorts/{cohort_id}/knowledge-tests",
    response_model=list[TraineeResult],
    responses=problem_responses(NotFound, Invalid),
)
async def record_tests(
    cohort_id: uuid.UUID, body: TestsWrite, session: SessionDep, actor: TrainingActor
) -> list[TraineeResult]:
    """Pre- or post-test scores (percentages) of enrolled trainees."""
    async with session.begin():
        await results_service.record_tests(session, actor.principal, cohort_id, body)
        return await results_service.results(session, actor.principal, cohort_id)


@router.post(
    "/v1/competency-assessments",
    status_code=201,
    response_model=CompetencyRead,
    responses=problem_responses(NotFound, Invalid),
)
async def assess_competency(
    body: CompetencyWrite,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
) -> CompetencyRead:
    """Rate a trainee on a competency tool (role-play, live or recording)."""
    async with session.begin():
        assessment = await results_service.assess_competency(
            session, actor.principal, body
        )
        record_access(
            session,
            AuditEntry,
            actor,
            action="assess",
            entity_type="trainee",
            entity_ids=[body.trainee_id],
        )
        read = CompetencyRead.model_validate(assessment)
    await announce_writes(runtime)
    return read


@router.get(
    "/v1/cohorts/{cohort_id}/results",
    response_model=list[TraineeResult],
    responses=problem_responses(NotFound),
)
async def results(
    cohort_id: uuid.UUID, session: SessionDep, actor: TrainingActor
) -> list[TraineeResult]:
    """Each trainee against the course's criteria, with the reasons."""
    async with session.begin():
        return await results_service.results(session, actor.principal, cohort_id)


@router.post(
    "/v1/cohorts/{cohort_id}/certify",
    response_model=list[TraineeResult],
    responses=problem_responses(NotFound),
)
async def certify(
    cohort_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    on: date = Body(embed=True),  # noqa: B008
) -> list[TraineeResult]:
    """Certify every trainee who meets all criteria (certifying twice changes
    nothing) and publish each trainee's result."""
    async with session.begin():
        judged = await results_service.certify(session, actor.principal, cohort_id, on)
    await announce_writes(runtime)
    return judged
