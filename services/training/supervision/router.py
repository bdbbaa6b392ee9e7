"""HTTP API for supervision sessions: record one (audited, then announced to
the outbox) and list the organisation's.
"""

from __future__ import annotations

from fastapi import APIRouter

from services.training.access import TrainingActor
from services.training.db import OnceDep, audit_log
from services.training.supervision import service as supervision_service
from services.training.supervision.models import SupervisionSession
from services.training.supervision.service import SupervisionRead, SupervisionWrite
from shared.app import RuntimeDep
from shared.db import SessionDep
from shared.deprecation import either
from shared.errors import Conflict, Invalid, problem_responses
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from shared.periods import EndDate, OldEndDate, OldStartDate, StartDate

router = APIRouter(prefix="/v1/supervision-sessions", tags=["supervision"])


@router.post(
    "",
    status_code=201,
    response_model=SupervisionRead,
    responses=problem_responses(Invalid, Conflict),
)
async def record_supervision(
    body: SupervisionWrite,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    once: OnceDep,
) -> SupervisionRead:
    """Record a supervision session with its supervisees."""
    principal = actor.principal

    async def render(row: SupervisionSession) -> SupervisionRead:
        return supervision_service.to_read(row, runtime.keyring)

    return await once.answer(
        principal,
        "POST /v1/supervision-sessions",
        body,
        lambda: supervision_service.record_supervision(
            session, principal, runtime.keyring, body
        ),
        lambda existing: supervision_service.get_supervision(
            session, principal, existing
        ),
        render,
        audit=None,  # recording a session was never audited; unchanged here
    )


@router.get("", response_model=Page[SupervisionRead])
async def list_supervision(
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    start: StartDate = None,
    end: EndDate = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    date_from: OldStartDate = None,
    date_to: OldEndDate = None,
) -> Page[SupervisionRead]:
    """Your organisation's supervision sessions, the earliest first."""
    page = await audit_log.read(
        session,
        actor,
        "list",
        "supervision_session",
        lambda: supervision_service.list_supervision(
            session,
            actor.principal,
            either(start, date_from, new="start", old="date_from"),
            either(end, date_to, new="end", old="date_to"),
            cursor=cursor,
            limit=limit,
        ),
        lambda found: [r.id for r in found.items],
    )
    return page.map(lambda r: supervision_service.to_read(r, runtime.keyring))
