"""Access review for auditors, and break-the-glass access outside one's
site scope: a reason, a time limit, and a notice to the data protection
focal point. (Who read which record is ``GET /v1/audit``.)"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.beneficiary.access import FieldActor, OversightActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.protection.grants import service as grants
from services.beneficiary.protection.grants.models import AccessGrant
from services.beneficiary.protection.grants.schemas import BreakGlass, GrantRead
from services.beneficiary.settings import settings_of
from shared.app import RuntimeDep
from shared.audit import Actor, Trail
from shared.contracts.text import Text
from shared.db import SessionDep
from shared.errors import Conflict, Forbidden, Invalid, NotFound, problem_responses
from shared.idempotency import Once
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from shared.scoping import get_in_scope

router = APIRouter(tags=["data protection"])


@router.post(
    "/v1/break-glass",
    status_code=201,
    response_model=GrantRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def break_glass(
    body: BreakGlass,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: FieldActor,
    once: OnceDep,
) -> GrantRead:
    """Open one person's records outside your sites for a while, with a
    reason. The data protection focal point is notified, and every access
    under the grant is audited as ``break-glass: <reason>``. Another
    organisation's person is a 404; someone you can see already is a 409."""
    settings = settings_of(runtime)

    async def open_grant() -> AccessGrant:
        grant = await grants.break_glass(
            session, actor.principal, body, settings.break_glass_max_minutes
        )
        return grant

    return await _grant_once(
        once,
        actor,
        "",
        body,
        open_grant,
        audit_log.trail(actor, "break_glass", "beneficiary", _person_of),
    )


@router.get("/v1/break-glass", response_model=Page[GrantRead])
async def list_grants(
    session: SessionDep,
    actor: OversightActor,
    active: bool | None = None,
    subject: Annotated[Text | None, Query(max_length=255)] = None,
    beneficiary_id: uuid.UUID | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[GrantRead]:
    """Your organisation's grants, newest first (``active=true``: those in
    force now), with their reasons; this read is audited."""
    principal = actor.principal
    page = await audit_log.read(
        session,
        actor,
        "read_grants",
        "organisation",
        lambda: grants.list_grants(
            session,
            principal,
            active=active,
            subject=subject,
            beneficiary_id=beneficiary_id,
            cursor=cursor,
            limit=limit,
        ),
        lambda _: [principal.organisation_id],
    )
    return page.map(grants.to_read)


@router.post(
    "/v1/break-glass/{grant_id}/revoke",
    response_model=GrantRead,
    responses=problem_responses(NotFound, Forbidden, Conflict),
)
async def revoke_grant(
    grant_id: uuid.UUID,
    session: SessionDep,
    actor: FieldActor,
    once: OnceDep,
) -> GrantRead:
    """End a grant now: its holder when done, or a supervisor or programme
    manager. From then on the person's records are a 404 again."""

    async def revoke() -> AccessGrant:
        grant = await grants.revoke_grant(session, actor.principal, grant_id)
        return grant

    return await _grant_once(
        once,
        actor,
        f"/{grant_id}/revoke",
        None,
        revoke,
        audit_log.trail(actor, "revoke_break_glass", "beneficiary", _person_of),
    )


def _person_of(grant: AccessGrant) -> list[uuid.UUID]:
    """A grant is audited as an act on the person it opens."""
    return [grant.beneficiary_id]


async def _grant_once(
    once: Once,
    actor: Actor,
    path: str,
    body: BaseModel | None,
    act: Callable[[], Awaitable[AccessGrant]],
    audit: Trail[AccessGrant] | None,
) -> GrantRead:
    """Run ``act`` once per Idempotency-Key; a replay answers the grant."""
    session = once.session
    principal = actor.principal

    async def render(grant: AccessGrant) -> GrantRead:
        return grants.to_read(grant)

    async def load(existing: uuid.UUID) -> AccessGrant:
        """The grant this caller opened or ended (their key): held at another
        site than theirs, so not read through the site scope."""
        return await get_in_scope(
            session, principal, AccessGrant, existing, what="grant", site_scoped=False
        )

    return await once.answer(
        principal,
        f"POST /v1/break-glass{path}",
        body,
        act,
        load,
        render,
        audit=audit,
    )
