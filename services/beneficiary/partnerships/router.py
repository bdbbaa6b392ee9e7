"""HTTP API for partnerships: the lead's organisation-wide programme
manager agrees and edits them (``If-Match``); the staff of the lead and of
the partner read them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.beneficiary.access import StructureManager, StructureReader
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.partnerships import service as partnerships_service
from services.beneficiary.partnerships.models import Partnership
from services.beneficiary.partnerships.schemas import (
    PartnershipCreate,
    PartnershipRead,
    PartnershipUpdate,
)
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

router = APIRouter(prefix="/v1/partnerships", tags=["partnerships"])


async def _render(partnership: Partnership) -> PartnershipRead:
    return PartnershipRead.model_validate(partnership)


@router.post(
    "",
    status_code=201,
    response_model=PartnershipRead,
    responses=problem_responses(Forbidden, Invalid, Conflict),
)
async def create_partnership(
    body: PartnershipCreate,
    session: SessionDep,
    actor: StructureManager,
    once: OnceDep,
) -> PartnershipRead:
    """As the lead, agree a partnership with an organisation that asked you
    to lead it: its records count under yours only while one covers them
    (date, place, activity)."""
    principal = actor.principal
    return await once.answer_versioned(
        principal,
        "POST /v1/partnerships",
        body,
        lambda: partnerships_service.create_partnership(session, principal, body),
        lambda existing: partnerships_service.get_partnership(
            session, principal, existing
        ),
        _render,
        audit=audit_log.trail(actor, "create", "partnership"),
    )


@router.get("", response_model=Page[PartnershipRead])
async def list_partnerships(
    session: SessionDep,
    principal: StructureReader,
    partner_organisation_id: uuid.UUID | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[PartnershipRead]:
    """Partnerships your organisation leads or is the partner in."""
    async with session.begin():
        page = await partnerships_service.list_partnerships(
            session,
            principal,
            partner_organisation_id=partner_organisation_id,
            cursor=cursor,
            limit=limit,
        )
    return page.map(PartnershipRead.model_validate)


@router.get(
    "/{partnership_id}",
    response_model=PartnershipRead,
    responses=problem_responses(NotFound),
)
async def get_partnership(
    partnership_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: StructureReader,
) -> PartnershipRead:
    """One partnership the caller's organisation is a party to."""
    async with session.begin():
        partnership = await partnerships_service.get_partnership(
            session, principal, partnership_id
        )
    response.headers["ETag"] = etag(partnership.version)
    return PartnershipRead.model_validate(partnership)


@router.patch(
    "/{partnership_id}",
    response_model=PartnershipRead,
    responses=problem_responses(
        NotFound, VersionConflict, PreconditionRequired, Invalid, Forbidden
    ),
)
async def update_partnership(
    partnership_id: uuid.UUID,
    body: PartnershipUpdate,
    session: SessionDep,
    actor: StructureManager,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> PartnershipRead:
    """As the lead, change the period (end it), places or activities;
    If-Match names your version. Records already written keep how they
    counted."""
    principal = actor.principal
    version = expected_version(if_match)
    return await once.answer_versioned(
        principal,
        f"PATCH /v1/partnerships/{partnership_id} If-Match: {version}",
        body,
        lambda: partnerships_service.update_partnership(
            session, principal, partnership_id, body, version
        ),
        lambda existing: partnerships_service.get_partnership(
            session, principal, existing
        ),
        _render,
        audit=audit_log.trail(actor, "update", "partnership"),
    )
