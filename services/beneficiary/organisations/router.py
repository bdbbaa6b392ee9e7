"""HTTP API for organisations: a platform admin registers one, the lead's admin
approves a partner, and any signed-in caller may list and read them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel

from services.beneficiary.access import OrganisationAdmin, PlatformAdmin
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.organisations import service as organisations_service
from services.beneficiary.organisations.models import Organisation
from services.beneficiary.organisations.schemas import (
    OrganisationCreate,
    OrganisationRead,
    OrganisationUpdate,
)
from shared.audit import Actor, Trail, acting
from shared.auth import MachineDep, Principal, PrincipalDep, Role
from shared.concurrency import etag, expected_version
from shared.contracts.lookups import IdsLookup, OrganisationsFound
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
from shared.idempotency import Once
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/organisations", tags=["organisations"])


@router.post(
    "",
    status_code=201,
    response_model=OrganisationRead,
    responses=problem_responses(Conflict, Forbidden, Invalid),
)
async def create_organisation(
    body: OrganisationCreate,
    session: SessionDep,
    principal: PlatformAdmin,
    once: OnceDep,
) -> OrganisationRead:
    """Register an organisation (role ``platform_admin`` only). A partner's
    ``lead_organisation_id`` is a request until that lead's admin approves it."""
    return await _once(
        once,
        principal,
        "POST /v1/organisations",
        body,
        lambda: organisations_service.create_organisation(session, body),
        audit=None,  # a platform act on no person's record
    )


@router.post(
    "/{organisation_id}/lead-approval",
    response_model=OrganisationRead,
    responses=problem_responses(NotFound, Forbidden, Conflict),
)
async def approve_partner(
    organisation_id: uuid.UUID,
    session: SessionDep,
    actor: Annotated[Actor, Depends(acting(Role.admin))],
    once: OnceDep,
) -> OrganisationRead:
    """As the lead's admin, accept this organisation as your implementing
    partner: its records written from now on count under your programme.
    Who approved, and when, stays on the organisation, and the approval is
    in your audit trail (``approve_partner``, with the ``X-Access-Reason``
    given)."""
    principal = actor.principal
    return await _once(
        once,
        principal,
        f"POST /v1/organisations/{organisation_id}/lead-approval",
        None,
        lambda: organisations_service.approve_partner(
            session, principal, organisation_id
        ),
        audit=audit_log.trail(actor, "approve_partner", "organisation"),
    )


@router.post("/lookup", response_model=OrganisationsFound)
async def lookup_organisations(
    body: IdsLookup, session: SessionDep, _: MachineDep
) -> OrganisationsFound:
    """For other services (machine accounts only): which of these ids are
    organisations on the platform. The training service checks a trainee's
    employer and a mentoring plan's or cohort's organisation here."""
    async with session.begin():
        found = await organisations_service.existing_organisations(session, body.ids)
    return OrganisationsFound(found=found)


async def _once(
    once: Once,
    principal: Principal,
    route: str,
    body: BaseModel | None,
    act: Callable[[], Awaitable[Organisation]],
    *,
    audit: Trail[Organisation] | None,
) -> OrganisationRead:
    """Run ``act`` once per Idempotency-Key; a replay answers the organisation."""
    session = once.session

    async def render(organisation: Organisation) -> OrganisationRead:
        return OrganisationRead.model_validate(organisation)

    return await once.answer(
        principal,
        route,
        body,
        act,
        lambda existing: organisations_service.get_organisation(session, existing),
        render,
        audit=audit,
    )


@router.get("", response_model=Page[OrganisationRead])
async def list_organisations(
    session: SessionDep,
    _: PrincipalDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[OrganisationRead]:
    """Organisations the caller may see: their own, their partners and, for a platform
    admin, all."""
    async with session.begin():
        page = await organisations_service.list_organisations(
            session, cursor=cursor, limit=limit
        )
    return page.map(OrganisationRead.model_validate)


@router.get(
    "/{organisation_id}",
    response_model=OrganisationRead,
    responses=problem_responses(NotFound),
)
async def get_organisation(
    organisation_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    _: PrincipalDep,
) -> OrganisationRead:
    """One organisation the caller may see; its ETag is what an edit sends
    back as If-Match."""
    async with session.begin():
        organisation = await organisations_service.get_organisation(
            session, organisation_id
        )
    response.headers["ETag"] = etag(organisation.version)
    return OrganisationRead.model_validate(organisation)


@router.patch(
    "/{organisation_id}",
    response_model=OrganisationRead,
    responses=problem_responses(
        NotFound, VersionConflict, PreconditionRequired, Invalid, Forbidden
    ),
)
async def update_organisation(
    organisation_id: uuid.UUID,
    body: OrganisationUpdate,
    session: SessionDep,
    actor: OrganisationAdmin,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> OrganisationRead:
    """As your organisation's admin, set its default language: the language
    of its documents, exports, dashboard data and subject-access documents
    when a request names none (``lang`` wins, then Accept-Language, then
    this, then English). If-Match must name the version you edited."""
    principal = actor.principal
    version = expected_version(if_match)

    async def render(organisation: Organisation) -> OrganisationRead:
        return OrganisationRead.model_validate(organisation)

    return await once.answer_versioned(
        principal,
        f"PATCH /v1/organisations/{organisation_id} If-Match: {version}",
        body,
        lambda: organisations_service.update_organisation(
            session, principal, organisation_id, body, version
        ),
        lambda existing: organisations_service.get_organisation(session, existing),
        render,
        audit=audit_log.trail(actor, "update", "organisation"),
    )
