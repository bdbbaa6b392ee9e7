"""``/v1/projects/{id}/progress``: a project's actuals against its targets."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from services.reporting.access.service import CallerDep
from services.reporting.indicators.service import store_of
from services.reporting.projects.service import (
    ProjectProgress,
    get_project_fact,
    project_progress,
)
from shared.db import SessionDep
from shared.errors import NotFound, problem_responses

router = APIRouter(prefix="/v1/projects", tags=["projects"])


@router.get(
    "/{project_id}/progress",
    response_model=ProjectProgress,
    responses=problem_responses(NotFound),
)
async def read_project_progress(
    project_id: uuid.UUID, request: Request, session: SessionDep, caller: CallerDep
) -> ProjectProgress:
    """Target, actual and percentage per target of a project your
    organisation leads or is a partner in, over the project's period."""
    async with session.begin():
        project = await get_project_fact(session, caller, project_id)
    return await project_progress(
        store_of(request.app), request.app.state.settings, caller, project
    )
