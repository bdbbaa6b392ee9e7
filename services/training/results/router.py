"""HTTP API for results: record knowledge tests and competency assessments,
read each trainee against the course's criteria, and certify (certifying twice
changes nothing).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.training.access import TrainingActor
from services.training.db import OnceDep, audit_log
from services.training.results import service as results_service
from services.training.results.models import CompetencyAssessment
from services.training.results.service import (
    CertificationWrite,
    CompetencyRead,
    CompetencyWrite,
    TestsWrite,
    TraineeResult,
)
from shared.db import SessionDep
from shared.errors import Conflict, Invalid, NotFound, problem_responses
from shared.idempotency import acted_on, mark_replay
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page, listed_page

router = APIRouter(tags=["results"])


@router.post(
    "/v1/cohorts/{cohort_id}/knowledge-tests",
    response_model=list[TraineeResult],
    responses=problem_responses(NotFound, Invalid),
)
async def record_tests(
    cohort_id: uuid.UUID,
    body: TestsWrite,
    session: SessionDep,
    actor: TrainingActor,
    once: OnceDep,
) -> list[TraineeResult]:
    """Pre- or post-test scores (percentages) of enrolled trainees."""
    principal = actor.principal

    async def record() -> uuid.UUID:
        await results_service.record_tests(session, principal, cohort_id, body)
        return cohort_id

    return await once.answer(
        principal,
        f"POST /v1/cohorts/{cohort_id}/knowledge-tests",
        body,
        record,
        acted_on,
        lambda _: results_service.results(session, principal, cohort_id),
        audit=None,  # test scores were never audited; unchanged here
    )


@router.post(
    "/v1/competency-assessments",
    status_code=201,
    response_model=CompetencyRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def assess_competency(
    body: CompetencyWrite,
    session: SessionDep,
    actor: TrainingActor,
    once: OnceDep,
) -> CompetencyRead:
    """Rate a trainee on a competency tool (role-play, live or recording).
    Send a client ``id`` (or an Idempotency-Key) so a retry assesses once."""
    principal = actor.principal

    async def load(existing: uuid.UUID) -> tuple[CompetencyAssessment, bool]:
        return await results_service.get_assessment(session, principal, existing), False

    def assessed(done: tuple[CompetencyAssessment, bool]) -> list[uuid.UUID]:
        return [body.trainee_id] if done[1] else []

    async def render(
        done: tuple[CompetencyAssessment, bool],
    ) -> tuple[CompetencyRead, bool]:
        return CompetencyRead.model_validate(done[0]), done[1]

    read, created = await once.answer(
        principal,
        "POST /v1/competency-assessments",
        body,
        lambda: results_service.assess_competency(session, principal, body),
        load,
        render,
        # a client id seen before assesses nothing: no row, answered as a replay
        audit=audit_log.trail(actor, "assess", "trainee", assessed),
        identify=lambda done: done[0].id,
    )
    mark_replay(once.response, not created)
    return read


@router.get(
    "/v1/cohorts/{cohort_id}/results",
    response_model=Page[TraineeResult],
    responses=problem_responses(NotFound),
)
async def results(
    cohort_id: uuid.UUID,
    session: SessionDep,
    actor: TrainingActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[TraineeResult]:
    """Each trainee against the course's criteria, with the reasons."""
    async with session.begin():
        rows = await results_service.results(session, actor.principal, cohort_id)
    return listed_page(
        rows, key=lambda r: str(r.trainee_id), cursor=cursor, limit=limit
    )


@router.post(
    "/v1/cohorts/{cohort_id}/certify",
    response_model=list[TraineeResult],
    responses=problem_responses(NotFound, Invalid),
)
async def certify(
    cohort_id: uuid.UUID,
    session: SessionDep,
    actor: TrainingActor,
    once: OnceDep,
    body: CertificationWrite,
) -> list[TraineeResult]:
    """Certify every trainee who meets all criteria (certifying twice changes
    nothing) and publish each trainee's result; with ``trainee_ids``, refuse
    unless each of them meets every criterion (the unmet ones are listed)."""
    principal = actor.principal
    on = body.on

    async def certify_cohort() -> uuid.UUID:
        await results_service.certify(
            session, principal, cohort_id, on, body.trainee_ids
        )
        return cohort_id

    return await once.answer(
        principal,
        f"POST /v1/cohorts/{cohort_id}/certify",
        body.model_dump(exclude_none=True),
        certify_cohort,
        acted_on,
        lambda _: results_service.results(session, principal, cohort_id),
        audit=None,  # certification was never audited; the outbox events stay
    )
