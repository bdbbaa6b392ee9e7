"""HTTP API for trainees' feedback: record an anonymous response to a
trainee form after a training session or a cohort, read one back, and list
the forms. Creates are idempotent (Idempotency-Key, client ids), audited and
announced to the outbox.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.training.access import TrainingActor
from services.training.db import OnceDep, audit_log
from services.training.feedback import service as feedback_service
from services.training.feedback.models import TraineeFeedback
from services.training.feedback.schemas import (
    TraineeFeedbackCreate,
    TraineeFeedbackRead,
    TraineeFormList,
)
from shared.auth import PrincipalDep
from shared.db import SessionDep
from shared.errors import Conflict, Invalid, NotFound, problem_responses
from shared.taxonomy.feedback import feedback_forms

router = APIRouter(tags=["feedback"])


async def _render(row: TraineeFeedback) -> TraineeFeedbackRead:
    return TraineeFeedbackRead.model_validate(row)


@router.post(
    "/v1/feedback-responses",
    status_code=201,
    response_model=TraineeFeedbackRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def record_trainee_feedback(
    body: TraineeFeedbackCreate,
    session: SessionDep,
    actor: TrainingActor,
    once: OnceDep,
) -> TraineeFeedbackRead:
    """Record a trainee's anonymous response to a trainee form after a
    session of a cohort, or after the cohort as a whole. Reports count
    responses, mean ratings and shares satisfied by course, place and
    month; no answer is free text."""
    principal = actor.principal
    return await once.answer(
        principal,
        "POST /v1/feedback-responses",
        body,
        lambda: feedback_service.record_feedback(session, principal, body),
        lambda existing: feedback_service.get_feedback(session, principal, existing),
        _render,
        audit=audit_log.trail(actor, "create", "trainee_feedback"),
    )


@router.get(
    "/v1/feedback-responses/{feedback_id}",
    response_model=TraineeFeedbackRead,
    responses=problem_responses(NotFound),
)
async def get_trainee_feedback(
    feedback_id: uuid.UUID, session: SessionDep, actor: TrainingActor
) -> TraineeFeedbackRead:
    """One trainee feedback response about a cohort you may see."""
    async with session.begin():
        row = await feedback_service.get_feedback(session, actor.principal, feedback_id)
    return TraineeFeedbackRead.model_validate(row)


@router.get("/v1/feedback-forms", response_model=TraineeFormList, tags=["taxonomy"])
async def list_trainee_forms(_: PrincipalDep) -> TraineeFormList:
    """The trainee feedback forms, with their items and scales."""
    return TraineeFormList(
        items=[f for f in feedback_forms().values() if f.audience == "trainee"]
    )
