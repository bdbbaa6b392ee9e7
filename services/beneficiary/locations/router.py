"""HTTP API for places: any signed-in caller may list and read them (with
names in their language), a programme manager may add one, and the platform
operator loads a country's P-code tables.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.beneficiary.access import PlatformAdmin
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.locations import gazetteer
from services.beneficiary.locations import service as locations_service
from services.beneficiary.locations.models import Location, LocationLoad
from services.beneficiary.locations.schemas import (
    GazetteerLoad,
    GazetteerReport,
    LocationCreate,
    LocationRead,
)
from shared.audit import Actor
from shared.auth import Principal, PrincipalDep, Role, require
from shared.contracts.enums import LocationLevel
from shared.contracts.text import Text
from shared.db import SessionDep
from shared.errors import Conflict, Forbidden, Invalid, NotFound, problem_responses
from shared.i18n import IN_ENGLISH, Language, LanguageDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/locations", tags=["locations"])


def read(location: Location, language: Language = IN_ENGLISH) -> LocationRead:
    """A location with its name in the caller's language."""
    found = LocationRead.model_validate(location)
    found.label = found.names.get(language.code) or found.name
    return found


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
    """Add a place to the shared location tree (platform admin); P-codes are
    unique."""

    async def render(location: Location) -> LocationRead:
        return read(location)

    return await once.answer(
        principal,
        "POST /v1/locations",
        body,
        lambda: locations_service.create_location(session, body),
        lambda existing: locations_service.get_location(session, existing),
        render,
        audit=None,  # no person's record: a shared place name
    )


@router.post(
    "/gazetteer",
    response_model=GazetteerReport,
    responses=problem_responses(Invalid, Forbidden),
)
async def load_gazetteer(
    body: GazetteerLoad,
    request: Request,
    session: SessionDep,
    principal: PlatformAdmin,
    once: OnceDep,
) -> GazetteerReport:
    """Load a country's admin 1-3 units (P-codes, names in en/ar/ckb) from
    the rows of a COD-AB-shaped table; the platform operator's act, since
    every organisation shares the tree. Keyed on the P-code and safe to
    repeat: a second load of the same rows reports them unchanged, and a
    retried request (same Idempotency-Key) gets the first answer. A bad row
    refuses the whole load, naming the row and column. See
    docs/locations.md."""
    mapping = body.mapping or gazetteer.cod_ab_mapping(body.rows[0])
    units = gazetteer.units_of(body.rows, body.country, mapping)
    actor = Actor(
        principal=principal,
        reason=None,
        request_id=getattr(request.state, "request_id", None),
    )

    changed: list[uuid.UUID] = []  # what the first load changed, to audit

    async def load() -> LocationLoad:
        report = await gazetteer.load_units(session, units)
        changed.extend(report.changed_ids)
        done = LocationLoad(
            country=body.country, loaded_by=principal.subject, **report.as_json()
        )
        session.add(done)
        await session.flush()
        return done

    async def again(load_id: uuid.UUID) -> LocationLoad:
        found = await session.get(LocationLoad, load_id)
        assert found is not None
        return found

    async def render(done: LocationLoad) -> GazetteerReport:
        return GazetteerReport.model_validate(done)

    return await once.answer(
        principal,
        "POST /v1/locations/gazetteer",
        body,
        load,
        again,
        render,
        audit=audit_log.trail(actor, "load_gazetteer", "location", lambda _: changed),
    )


@router.get("", response_model=Page[LocationRead], responses=problem_responses(Invalid))
async def list_locations(
    session: SessionDep,
    _: PrincipalDep,
    language: LanguageDep,
    level: LocationLevel | None = None,
    parent_id: uuid.UUID | None = None,
    pcode: Annotated[Text | None, Query(max_length=32)] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[LocationRead]:
    """Places in the location tree, filterable by level and parent, with names in the
    caller's language."""
    async with session.begin():
        page = await locations_service.list_locations(
            session,
            level=level,
            parent_id=parent_id,
            pcode=pcode,
            cursor=cursor,
            limit=limit,
        )
    return page.map(lambda r: read(r, language))


@router.get(
    "/{location_id}", response_model=LocationRead, responses=problem_responses(NotFound)
)
async def get_location(
    location_id: uuid.UUID, session: SessionDep, _: PrincipalDep, language: LanguageDep
) -> LocationRead:
    """One place with its names in each language."""
    async with session.begin():
        location = await locations_service.get_location(session, location_id)
    return read(location, language)
