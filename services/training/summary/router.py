"""``GET /v1/training-summary``: the summary for one cohort, or for the
caller's whole programme over a period.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.training.access import TrainingActor
from services.training.summary import service as summary_service
from services.training.summary.service import TrainingSummary
from shared.db import SessionDep
from shared.deprecation import either
from shared.errors import NotFound, problem_responses
from shared.periods import EndDate, OldEndDate, OldStartDate, StartDate

router = APIRouter(tags=["summary"])


@router.get(
    "/v1/training-summary",
    response_model=TrainingSummary,
    responses=problem_responses(NotFound),
)
async def training_summary(
    session: SessionDep,
    actor: TrainingActor,
    cohort_id: uuid.UUID | None = None,
    start: StartDate = None,
    end: EndDate = None,
    date_from: OldStartDate = None,
    date_to: OldEndDate = None,
) -> TrainingSummary:
    """People trained by sex and audience, hours, completion and certification
    rates, pre/post change, ToT trainers produced, supervision: for one
    cohort, or your whole programme over a period."""
    async with session.begin():
        return await summary_service.summary(
            session,
            actor.principal,
            cohort_id=cohort_id,
            date_from=either(start, date_from, new="start", old="date_from"),
            date_to=either(end, date_to, new="end", old="date_to"),
        )
