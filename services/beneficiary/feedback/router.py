"""HTTP API for participants' feedback: record an anonymous response to a
participant form after a group activity or a service, read one back, and
list the forms. Creates are idempotent (Idempotency-Key, client ids),
audited and announced to the outbox.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.beneficiary.access import FieldActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.feedback import service as feedback_service
from services.beneficiary.feedback.models import FeedbackResponse
from services.beneficiary.feedback.schemas import (
    FeedbackFormList,
    FeedbackResponseCreate,
    FeedbackResponseRead,
)
from shared.auth import PrincipalDep
from shared.db import SessionDep
from shared.errors import Conflict, Invalid, NotFound, problem_responses
from shared.taxonomy.feedback import feedback_forms

router = APIRouter(tags=["feedback"])


async def _render(response: FeedbackResponse) -> FeedbackResponseRead:
    return FeedbackResponseRead.model_validate(response)


@router.post(
    "/v1/feedback-responses",
    status_code=201,
    response_model=FeedbackResponseRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def record_feedback_response(
    body: FeedbackResponseCreate,
    session: SessionDep,
    actor: FieldActor,
    once: OnceDep,
) -> FeedbackResponseRead:
    """Record an anonymous response to a participant form (a slip or a
    tablet passed round after a session), after the group activity or the
    service it is about. Reports count responses, mean ratings and shares
    satisfied per item; no answer is free text."""
    principal = actor.principal
    return await once.answer(
        principal,
        "POST /v1/feedback-responses",
        body,
        lambda: feedback_service.record_response(session, principal, body),
        lambda existing: feedback_service.get_response(session, principal, existing),
        _render,
        audit=audit_log.trail(actor, "create", "feedback_response"),
    )


@router.get(
    "/v1/feedback-responses/{response_id}",
    response_model=FeedbackResponseRead,
    responses=problem_responses(NotFound),
)
async def get_feedback_response(
    response_id: uuid.UUID, session: SessionDep, actor: FieldActor
) -> FeedbackResponseRead:
    """One feedback response in your scope."""
    async with session.begin():
        found = await feedback_service.get_response(
            session, actor.principal, response_id
        )
    return FeedbackResponseRead.model_validate(found)


@router.get("/v1/feedback-forms", response_model=FeedbackFormList, tags=["taxonomy"])
async def list_feedback_forms(_: PrincipalDep) -> FeedbackFormList:
    """The participant feedback forms, with their items and scales."""
    return FeedbackFormList(
        items=[f for f in feedback_forms().values() if f.audience == "participant"]
    )
