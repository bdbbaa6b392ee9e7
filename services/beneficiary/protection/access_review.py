"""Access review for auditors, and break-the-glass access outside one's
site scope: a reason, a time limit, and a notice to the data protection
focal point. (Who read which record is ``GET /v1/audit``.)"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.beneficiary.access import FieldActor
from services.beneficiary.audit.models import AuditEntry
from services.beneficiary.protection import grants, notices
from services.beneficiary.protection.grants import BreakGlass, GrantRead
from services.beneficiary.protection.models import NoticeDelivery
from services.beneficiary.protection.notices import NoticeRead
from services.beneficiary.settings import settings_of
from shared.app import RuntimeDep
from shared.audit import Actor, acting, record_access
from shared.auth import Role
from shared.contracts.text import Text
from shared.db import SessionDep
from shared.errors import Conflict, Forbidden, Invalid, NotFound, problem_responses
from shared.pagination import MAX_LIMIT, Page
from shared.queue import send_deferred_jobs

router = APIRouter(tags=["data protection"])
ReviewActor = Annotated[Actor, Depends(acting(Role.auditor, Role.programme_manager))]


@router.post(
    "/v1/break-glass",
    status_code=201,
    response_model=GrantRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def break_glass(
    body: BreakGlass, session: SessionDep, runtime: RuntimeDep, actor: FieldActor
) -> GrantRead:
    """Open one person's records outside your sites for a while, with a
    reason. The data protection focal point is notified, and every access
    under the grant is audited as ``break-glass: <reason>``. Another
    organisation's person is a 404; someone you can see already is a 409."""
    settings = settings_of(runtime)
    async with session.begin():
        grant = await grants.break_glass(
            session, actor.principal, body, settings.break_glass_max_minutes
        )
        record_access(
            session,
            AuditEntry,
            actor,
            action="break_glass",
            entity_type="beneficiary",
            entity_ids=[grant.beneficiary_id],
        )
        read = grants.to_read(grant)
    await send_deferred_jobs(session, runtime.queue)
    return read


@router.get("/v1/break-glass", response_model=Page[GrantRead])
async def list_grants(
    session: SessionDep,
    actor: ReviewActor,
    active: bool | None = None,
    subject: Annotated[Text | None, Query(max_length=255)] = None,
    beneficiary_id: uuid.UUID | None = None,
    cursor: Annotated[Text | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[GrantRead]:
    """Your organisation's grants, newest first (``active=true``: those in
    force now), with their reasons; this read is audited."""
    principal = actor.principal
    async with session.begin():
        page = await grants.list_grants(
            session,
            principal,
            active=active,
            subject=subject,
            beneficiary_id=beneficiary_id,
            cursor=cursor,
            limit=limit,
        )
        record_access(
            session,
            AuditEntry,
            actor,
            action="read_grants",
            entity_type="organisation",
            entity_ids=[principal.organisation_id],
        )
    return Page(
        items=[grants.to_read(g) for g in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/v1/break-glass/{grant_id}/revoke",
    response_model=GrantRead,
    responses=problem_responses(NotFound, Forbidden, Conflict),
)
async def revoke_grant(
    grant_id: uuid.UUID, session: SessionDep, actor: FieldActor
) -> GrantRead:
    """End a grant now: its holder when done, or a supervisor or programme
    manager. From then on the person's records are a 404 again."""
    async with session.begin():
        grant = await grants.revoke_grant(session, actor.principal, grant_id)
        record_access(
            session,
            AuditEntry,
            actor,
            action="revoke_break_glass",
            entity_type="beneficiary",
            entity_ids=[grant.beneficiary_id],
        )
        read = grants.to_read(grant)
    return read


@router.get("/v1/protection-notices", response_model=Page[NoticeRead])
async def list_notices(
    session: SessionDep,
    actor: ReviewActor,
    kind: Annotated[Text | None, Query(max_length=64)] = None,
    delivery: NoticeDelivery | None = None,
    cursor: Annotated[Text | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[NoticeRead]:
    """Notices to the data protection focal point and whether their webhook
    took them (``dead_letter``: it never did; ``not_configured``: no webhook),
    newest first."""
    principal = actor.principal
    async with session.begin():
        page = await notices.list_notices(
            session,
            principal,
            kind=kind,
            delivery=delivery,
            cursor=cursor,
            limit=limit,
        )
        record_access(
            session,
            AuditEntry,
            actor,
            action="read_notices",
            entity_type="organisation",
            entity_ids=[principal.organisation_id],
        )
    return Page(
        items=[NoticeRead.model_validate(n) for n in page.items],
        next_cursor=page.next_cursor,
    )
