"""The rules of recording trainees' feedback: the form fits (checked in the
schema), the cohort is in the caller's scope and, when named, the session is
one of its own; the cohort's course, site and project are copied, and each
response announces a ``feedback_response.recorded`` event with the answers
only. Functions flush; the handler commits.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.training.cohorts import service as cohorts_service
from services.training.db import OutboxEvent
from services.training.feedback.models import TraineeFeedback
from services.training.feedback.schemas import TraineeFeedbackCreate
from shared.auth import Principal
from shared.contracts.events import EventType, FeedbackFacts
from shared.errors import Conflict, NotFound
from shared.outbox import add_event


async def record_feedback(
    session: AsyncSession, principal: Principal, data: TraineeFeedbackCreate
) -> TraineeFeedback:
    """One anonymous response about a cohort of the caller's scope."""
    cohort = await cohorts_service.get_cohort(session, principal, data.cohort_id)
    answered_on = cohort.ends_on
    if data.session_number is not None:
        held = await cohorts_service.get_session(
            session, cohort, data.session_number, ("body", "session_number")
        )
        answered_on = held.held_on
    if data.id is not None:
        key = (principal.organisation_id, data.id)
        if await session.get(TraineeFeedback, key) is not None:
            raise Conflict("A feedback response with this id exists already.")
    row = TraineeFeedback(
        id=data.id or uuid.uuid4(),
        organisation_id=cohort.organisation_id,
        cohort_id=cohort.id,
        session_number=data.session_number,
        form=data.form,
        answers=data.answers,
        answered_on=answered_on,
        course_id=cohort.course_id,
        site_id=cohort.site_id,
        project_id=cohort.project_id,
        created_by=principal.subject,
    )
    session.add(row)
    add_event(
        session,
        OutboxEvent,
        type=EventType.feedback_response_recorded,
        organisation_id=row.organisation_id,
        entity_type="trainee_feedback",
        entity_id=row.id,
        facts=FeedbackFacts(
            response_id=row.id,
            **row.model_dump(
                include={
                    "organisation_id",
                    "form",
                    "answers",
                    "answered_on",
                    "course_id",
                    "site_id",
                    "project_id",
                }
            ),
        ),
    )
    await session.flush()
    return row


async def get_feedback(
    session: AsyncSession, principal: Principal, feedback_id: uuid.UUID
) -> TraineeFeedback:
    """One response about a cohort the caller may see."""
    row = await session.get(TraineeFeedback, (principal.organisation_id, feedback_id))
    if row is None:
        raise NotFound("No such feedback response.")
    await cohorts_service.get_cohort(session, principal, row.cohort_id)
    return row
