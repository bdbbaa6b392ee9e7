"""HTTP API for teams: an organisation-wide programme manager sets them up
and edits them under ``If-Match``; the organisation's staff read them (a
team-scoped user its own team only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.beneficiary.access import StructureManager, StructureReader
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.teams import service as teams_service
from services.beneficiary.teams.models import Team
from services.beneficiary.teams.schemas import TeamCreate, TeamRead, TeamUpdate
from shared.concurrency import etag, expected_version
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PreconditionRequired,
    VersionConflict,
    problem_responses,
)
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/teams", tags=["teams"])


async def _render(team: Team) -> TeamRead:
    return TeamRead.model_validate(team)


@router.post(
    "",
    status_code=201,
    response_model=TeamRead,
    responses=problem_responses(Conflict, Forbidden, Invalid),
)
async def create_team(
    body: TeamCreate, session: SessionDep, actor: StructureManager, once: OnceDep
) -> TeamRead:
    """Add a governorate team or a mobile team to your organisation."""
    principal = actor.principal
    return await once.answer_versioned(
        principal,
        "POST /v1/teams",
        body,
        lambda: teams_service.create_team(session, principal, body),
        lambda existing: teams_service.get_team(session, principal, existing),
        _render,
        audit=audit_log.trail(actor, "create", "team"),
    )


@router.get("", response_model=Page[TeamRead])
async def list_teams(
    session: SessionDep,
    principal: StructureReader,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[TeamRead]:
    """The organisation's teams; a team-scoped caller sees only their own."""
    async with session.begin():
        page = await teams_service.list_teams(
            session, principal, cursor=cursor, limit=limit
        )
    return page.map(TeamRead.model_validate)


@router.get(
    "/{team_id}", response_model=TeamRead, responses=problem_responses(NotFound)
)
async def get_team(
    team_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: StructureReader,
) -> TeamRead:
    """One team of the organisation."""
    async with session.begin():
        team = await teams_service.get_team(session, principal, team_id)
    response.headers["ETag"] = etag(team.version)
    return TeamRead.model_validate(team)


@router.patch(
    "/{team_id}",
    response_model=TeamRead,
    responses=problem_responses(
        NotFound, VersionConflict, PreconditionRequired, Conflict, Invalid, Forbidden
    ),
)
async def update_team(
    team_id: uuid.UUID,
    body: TeamUpdate,
    session: SessionDep,
    actor: StructureManager,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> TeamRead:
    """Edit a team; If-Match must name the version you edited."""
    principal = actor.principal
    version = expected_version(if_match)
    return await once.answer_versioned(
        principal,
        f"PATCH /v1/teams/{team_id} If-Match: {version}",
        body,
        lambda: teams_service.update_team(session, principal, team_id, body, version),
        lambda existing: teams_service.get_team(session, principal, existing),
        _render,
        audit=audit_log.trail(actor, "update", "team"),
    )
