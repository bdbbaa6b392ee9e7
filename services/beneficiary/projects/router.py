"""HTTP API for projects: the lead's organisation-wide programme manager
creates and edits them (``If-Match``); staff of the lead and of the listed
partners read them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.beneficiary.access import StructureManager, StructureReader
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.projects import service as projects_service
from services.beneficiary.projects.models import Project
from services.beneficiary.projects.schemas import (
    ProjectCreate,
    ProjectRead,
    ProjectUpdate,
)
from shared.auth import MachineDep
from shared.concurrency import etag, expected_version
from shared.contracts.lookups import IdsLookup, ProjectsFound
from shared.db import SessionDep
from shared.errors import (
    Forbidden,
    Invalid,
    NotFound,
    PreconditionRequired,
    VersionConflict,
    problem_responses,
)
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/projects", tags=["projects"])


async def _render(project: Project) -> ProjectRead:
    return ProjectRead.model_validate(project)


@router.post(
    "",
    status_code=201,
    response_model=ProjectRead,
    responses=problem_responses(Forbidden, Invalid),
)
async def create_project(
    body: ProjectCreate,
    session: SessionDep,
    actor: StructureManager,
    once: OnceDep,
) -> ProjectRead:
    """Set up a project your organisation leads: donor, grant, period,
    partners, places and targets per indicator."""
    principal = actor.principal
    return await once.answer_versioned(
        principal,
        "POST /v1/projects",
        body,
        lambda: projects_service.create_project(session, principal, body),
        lambda existing: projects_service.get_project(session, principal, existing),
        _render,
        audit=audit_log.trail(actor, "create", "project"),
    )


@router.post("/lookup", response_model=ProjectsFound)
async def lookup_projects(
    body: IdsLookup, session: SessionDep, principal: MachineDep
) -> ProjectsFound:
    """For other services acting for an organisation (machine accounts
    only): which of these ids are projects it leads or is a listed partner
    in, with their periods. Another organisation's project is left out like
    an unknown id, so the answer reveals no project the organisation does
    not take part in."""
    async with session.begin():
        found = await projects_service.projects_taken_part_in(
            session, principal, body.ids
        )
    return ProjectsFound(found=found)


@router.get("", response_model=Page[ProjectRead])
async def list_projects(
    session: SessionDep,
    principal: StructureReader,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[ProjectRead]:
    """Projects your organisation leads or is a partner in."""
    async with session.begin():
        page = await projects_service.list_projects(
            session, principal, cursor=cursor, limit=limit
        )
    return page.map(ProjectRead.model_validate)


@router.get(
    "/{project_id}", response_model=ProjectRead, responses=problem_responses(NotFound)
)
async def get_project(
    project_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: StructureReader,
) -> ProjectRead:
    """One project of the organisation, or one it is a partner in."""
    async with session.begin():
        project = await projects_service.get_project(session, principal, project_id)
    response.headers["ETag"] = etag(project.version)
    return ProjectRead.model_validate(project)


@router.patch(
    "/{project_id}",
    response_model=ProjectRead,
    responses=problem_responses(
        NotFound, VersionConflict, PreconditionRequired, Invalid, Forbidden
    ),
)
async def update_project(
    project_id: uuid.UUID,
    body: ProjectUpdate,
    session: SessionDep,
    actor: StructureManager,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> ProjectRead:
    """Edit a project your organisation leads; If-Match names your version."""
    principal = actor.principal
    version = expected_version(if_match)
    return await once.answer_versioned(
        principal,
        f"PATCH /v1/projects/{project_id} If-Match: {version}",
        body,
        lambda: projects_service.update_project(
            session, principal, project_id, body, version
        ),
        lambda existing: projects_service.get_project(session, principal, existing),
        _render,
        audit=audit_log.trail(actor, "update", "project"),
    )
