from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from services.training.db import AuditEntry
from services.training.outbox.jobs import announce_writes
from services.training.trainees import service as trainees_service
from services.training.trainees.service import (
    TraineeCreate,
    TraineeRead,
    TraineeSummary,
)
from shared.app import RuntimeDep
from shared.audit import Actor, acting, record_access
from shared.auth import Role
from shared.contracts.enums import TrainingAudience
from shared.db import SessionDep
from shared.errors import Conflict, Invalid, NotFound, problem_responses

router = APIRouter(prefix="/v1/trainees", tags=["trainees"])
TrainingActor = Annotated[
    Actor, Depends(acting(Role.trainer, Role.supervisor, Role.programme_manager))
]


@router.post(
    "",
    status_code=201,
    response_model=TraineeRead,
    responses=problem_responses(Conflict, Invalid),
)
async def register_trainee(
    body: TraineeCreate, session: SessionDep, runtime: RuntimeDep, actor: TrainingActor
) -> TraineeRead:
    async with session.begin():
        trainee = await trainees_service.register_trainee(
            session, actor.principal, runtime.keyring, body
        )
        record_access(
            session,
            AuditEntry,
            actor,
            action="create",
            entity_type="trainee",
            entity_ids=[trainee.id],
        )
        read = trainees_service.to_read(trainee, runtime.keyring)
    await announce_writes(runtime)
    return read


@router.get("", response_model=list[TraineeSummary])
async def list_trainees(
    session: SessionDep, actor: TrainingActor, audience: TrainingAudience | None = None
) -> list[TraineeSummary]:
    """Your organisation's trainees, without names or contact details."""
    async with session.begin():
        rows = await trainees_service.list_trainees(session, actor.principal, audience)
    return [TraineeSummary.model_validate(r) for r in rows]


@router.get(
    "/{trainee_id}", response_model=TraineeRead, responses=problem_responses(NotFound)
)
async def get_trainee(
    trainee_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
) -> TraineeRead:
    """One trainee with contact details; every read is audit-logged."""
    async with session.begin():
        trainee = await trainees_service.get_trainee(
            session, actor.principal, trainee_id
        )
        record_access(
            session,
            AuditEntry,
            actor,
            action="read",
            entity_type="trainee",
            entity_ids=[trainee.id],
        )
    return trainees_service.to_read(trainee, runtime.keyring)
