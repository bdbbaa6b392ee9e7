"""HTTP API for places: any signed-in caller may list and read them, and only a
programme manager may add one.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.beneficiary.db import OnceDep
from services.beneficiary.locations import service as locations_service
from services.beneficiary.locations.schemas import LocationCreate, LocationRead
from shared.auth import Principal, PrincipalDep, Role, require
from shared.contracts.enums import LocationLevel
from shared.contracts.text import Text
from shared.db import SessionDep
from shared.errors import Conflict, Invalid, NotFound, problem_responses
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/locations", tags=["locations"])


@router.post(
    "",
    status_code=201,
    response_model=LocationRead,
    responses=problem_responses(Conflict, Invalid),
)
async def create_location(
    body: LocationCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(Role.programme_manager))],
    once: OnceDep,
) -> LocationRead:
    async with session.begin():
        location, replayed = await once.act(
            principal,
            "POST /v1/locations",
            body,
            lambda: locations_service.create_location(session, body),
            lambda existing: locations_service.get_location(session, existing),
        )
    return LocationRead.model_validate(location)


@router.get("", response_model=Page[LocationRead], responses=problem_responses(Invalid))
async def list_locations(
    session: SessionDep,
    _: PrincipalDep,
    level: LocationLevel | None = None,
    parent_id: uuid.UUID | None = None,
    pcode: Annotated[Text | None, Query(max_length=32)] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[LocationRead]:
    async with session.begin():
        page = await locations_service.list_locations(
            session,
            level=level,
            parent_id=parent_id,
            pcode=pcode,
            cursor=cursor,
            limit=limit,
        )
    return Page(
        items=[LocationRead.model_validate(r) for r in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/{location_id}", response_model=LocationRead, responses=problem_responses(NotFound)
)
async def get_location(
    location_id: uuid.UUID, session: SessionDep, _: PrincipalDep
) -> LocationRead:
    async with session.begin():
        location = await locations_service.get_location(session, location_id)
    return LocationRead.model_validate(location)
