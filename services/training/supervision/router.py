"""HTTP API for supervision sessions: record one (audited, then announced to
the outbox) and list the organisation's.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from services.training.access import TrainingActor
from services.training.db import OnceDep, audit_log
from services.training.outbox.jobs import announce_writes
from services.training.supervision import service as supervision_service
from services.training.supervision.service import SupervisionRead, SupervisionWrite
from shared.app import RuntimeDep
from shared.db import SessionDep
from shared.errors import Conflict, Invalid, problem_responses

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
    principal = actor.principal
    async with session.begin():
        row, replayed = await once.act(
            principal,
            "POST /v1/supervision-sessions",
            body,
            lambda: supervision_service.record_supervision(
                session, principal, runtime.keyring, body
            ),
            lambda existing: supervision_service.get_supervision(
                session, principal, existing
            ),
        )
        read = supervision_service.to_read(row, runtime.keyring)
    if not replayed:
        await announce_writes(runtime)
    return read


@router.get("", response_model=list[SupervisionRead])
async def list_supervision(
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[SupervisionRead]:
    async with session.begin():
        rows = await supervision_service.list_supervision(
            session, actor.principal, date_from, date_to
        )
        audit_log.record(
            session, actor, "list", "supervision_session", [r.id for r in rows]
        )
    return [supervision_service.to_read(r, runtime.keyring) for r in rows]
