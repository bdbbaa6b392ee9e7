"""The rules of recording participants' feedback: the form fits (checked in
the schema), the record it follows is in the caller's scope and not voided,
and its delivery columns are copied; each response announces a
``feedback_response.recorded`` event with the answers only. Functions
flush; the handler commits.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.beneficiary.db import OutboxEvent
from services.beneficiary.feedback.models import FeedbackResponse
from services.beneficiary.feedback.schemas import FeedbackResponseCreate
from services.beneficiary.materials.service import after_record
from shared.auth import Principal
from shared.contracts.events import EventType, FeedbackFacts
from shared.outbox import add_event
from shared.scoping import get_in_scope

DELIVERY = (
    "organisation_id",
    "answered_on",
    "lead_organisation_id",
    "activity_code",
    "site_id",
    "team_id",
    "project_id",
)


async def record_response(
    session: AsyncSession, principal: Principal, data: FeedbackResponseCreate
) -> FeedbackResponse:
    """One anonymous response after a record of the caller's scope."""
    new_id, day, copied = await after_record(
        session,
        principal,
        FeedbackResponse,
        data.id,
        data.group_activity_id,
        data.service_record_id,
    )
    response = FeedbackResponse(
        id=new_id, form=data.form, answers=data.answers, answered_on=day, **copied
    )
    session.add(response)
    add_event(
        session,
        OutboxEvent,
        type=EventType.feedback_response_recorded,
        organisation_id=response.organisation_id,
        entity_type="feedback_response",
        entity_id=response.id,
        facts=FeedbackFacts(
            response_id=response.id,
            form=response.form,
            answers=response.answers,
            **response.model_dump(include=set(DELIVERY)),
        ),
    )
    await session.flush()
    return response


async def get_response(
    session: AsyncSession, principal: Principal, response_id: uuid.UUID
) -> FeedbackResponse:
    """One response in the caller's scope."""
    return await get_in_scope(
        session, principal, FeedbackResponse, response_id, what="feedback response"
    )
