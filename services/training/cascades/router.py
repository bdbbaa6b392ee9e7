"""``GET /v1/cascades/{cohort_id}``: the reach of one ToT cohort of the
caller's organisation, for trainers, supervisors and programme managers.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.training.access import TrainingActor
from services.training.cascades import service as cascades_service
from services.training.cascades.service import Cascade
from shared.db import SessionDep
from shared.errors import Invalid, NotFound, problem_responses

router = APIRouter(tags=["ToT cascade"])


@router.get(
    "/v1/cascades/{cohort_id}",
    response_model=Cascade,
    responses=problem_responses(NotFound, Invalid),
)
async def cascade(
    cohort_id: uuid.UUID, session: SessionDep, actor: TrainingActor
) -> Cascade:
    """The reach of a ToT cohort, generation by generation: trainers it
    certified, the cohorts they facilitated and the trainees those reached."""
    async with session.begin():
        return await cascades_service.cascade(session, actor.principal, cohort_id)
