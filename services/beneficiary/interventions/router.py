"""HTTP API for structured interventions: the definitions, enrolment, sessions
attended, drop-out and finish. Each write is audited and announced to the
outbox after it commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from services.beneficiary.access import CaseActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.interventions import service as enrolments_service
from services.beneficiary.interventions.models import Enrolment
from services.beneficiary.interventions.service import (
    EndedOn,
    EnrolmentCreate,
    EnrolmentRead,
    SessionAttended,
)
from shared.audit import Actor, Trail
from shared.auth import PrincipalDep
from shared.contracts.enums import EnrolmentStatus
from shared.db import SessionDep
from shared.errors import Conflict, ConsentMissing, Invalid, NotFound, problem_responses
from shared.idempotency import Once
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page, listed_page
from shared.taxonomy.interventions import Intervention, interventions

router = APIRouter(tags=["structured interventions"])


@router.get("/v1/interventions")
async def list_interventions(
    _: PrincipalDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[Intervention]:
    """Every structured intervention definition (sessions, rule, windows)."""
    return listed_page(
        list(interventions().values()),
        key=lambda i: f"{i.code}@{i.version}",
        cursor=cursor,
        limit=limit,
    )


@router.post(
    "/v1/enrolments",
    status_code=201,
    response_model=EnrolmentRead,
    responses=problem_responses(NotFound, ConsentMissing, Conflict, Invalid),
)
async def enrol(
    body: EnrolmentCreate,
    session: SessionDep,
    actor: CaseActor,
    once: OnceDep,
) -> EnrolmentRead:
    """Enrol a person in a structured intervention; needs consent to services."""

    async def create() -> Enrolment:
        enrolment = await enrolments_service.enrol(session, actor.principal, body)
        return enrolment

    return await _once(
        once,
        actor,
        "POST /v1/enrolments",
        body,
        create,
        audit_log.trail(actor, "create", "enrolment"),
    )


@router.get("/v1/enrolments", response_model=Page[EnrolmentRead])
async def list_enrolments(
    session: SessionDep,
    actor: CaseActor,
    beneficiary_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
    status: EnrolmentStatus | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[EnrolmentRead]:
    """Enrolments in structured interventions at your sites, the latest
    enrolled first; filter by person, case or status."""

    async def fetch() -> Page[EnrolmentRead]:
        page = await enrolments_service.list_enrolments(
            session,
            actor.principal,
            beneficiary_id=beneficiary_id,
            case_id=case_id,
            status=status,
            cursor=cursor,
            limit=limit,
        )
        items = [await enrolments_service.to_read(session, e) for e in page.items]
        return Page(items=items, next_cursor=page.next_cursor)

    return await audit_log.read(
        session,
        actor,
        "list",
        "enrolment",
        fetch,
        lambda page: [e.id for e in page.items],
    )


@router.get(
    "/v1/enrolments/{enrolment_id}",
    response_model=EnrolmentRead,
    responses=problem_responses(NotFound),
)
async def get_enrolment(
    enrolment_id: uuid.UUID, session: SessionDep, actor: CaseActor
) -> EnrolmentRead:
    """One enrolment with its dose and the next session due."""

    async def fetch() -> EnrolmentRead:
        enrolment = await enrolments_service.get_enrolment(
            session, actor.principal, enrolment_id
        )
        return await enrolments_service.to_read(session, enrolment)

    return await audit_log.read(session, actor, "read", "enrolment", fetch)


@router.post(
    "/v1/enrolments/{enrolment_id}/sessions",
    response_model=EnrolmentRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def attend_session(
    enrolment_id: uuid.UUID,
    body: SessionAttended,
    session: SessionDep,
    actor: CaseActor,
    once: OnceDep,
) -> EnrolmentRead:
    """Mark a protocol session attended (once per session)."""

    async def attend() -> Enrolment:
        enrolment = await enrolments_service.attend_session(
            session, actor.principal, enrolment_id, body
        )
        return enrolment

    return await _once(
        once,
        actor,
        f"POST /v1/enrolments/{enrolment_id}/sessions",
        body,
        attend,
        audit_log.trail(actor, "session", "enrolment"),
    )


@router.post(
    "/v1/enrolments/{enrolment_id}/drop-out",
    response_model=EnrolmentRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def drop_out(
    enrolment_id: uuid.UUID,
    body: EndedOn,
    session: SessionDep,
    actor: CaseActor,
    once: OnceDep,
) -> EnrolmentRead:
    """The person left the intervention."""
    return await _close(
        session, once, actor, enrolment_id, EnrolmentStatus.dropped_out, body
    )


@router.post(
    "/v1/enrolments/{enrolment_id}/finish",
    response_model=EnrolmentRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def finish(
    enrolment_id: uuid.UUID,
    body: EndedOn,
    session: SessionDep,
    actor: CaseActor,
    once: OnceDep,
) -> EnrolmentRead:
    """End the enrolment when the protocol is over, sessions missed or not."""
    return await _close(
        session, once, actor, enrolment_id, EnrolmentStatus.finished, body
    )


async def _close(
    session: AsyncSession,
    once: Once,
    actor: Actor,
    enrolment_id: uuid.UUID,
    status: EnrolmentStatus,
    body: EndedOn,
) -> EnrolmentRead:
    async def close() -> Enrolment:
        enrolment = await enrolments_service.close_enrolment(
            session, actor.principal, enrolment_id, status, body.on
        )
        return enrolment

    return await _once(
        once,
        actor,
        f"POST /v1/enrolments/{enrolment_id} {status}",
        body,
        close,
        audit_log.trail(actor, str(status), "enrolment"),
    )


async def _once(
    once: Once,
    actor: Actor,
    route: str,
    body: object,
    act: Callable[[], Awaitable[Enrolment]],
    audit: Trail[Enrolment] | None,
) -> EnrolmentRead:
    """Run ``act`` once per Idempotency-Key; a replay answers the enrolment."""
    principal, session = actor.principal, once.session
    return await once.answer(
        principal,
        route,
        body,
        act,
        lambda existing: enrolments_service.get_enrolment(session, principal, existing),
        lambda enrolment: enrolments_service.to_read(session, enrolment),
        audit=audit,
    )
