"""HTTP API for supervised practice: create a group, record its sessions,
review a session's fidelity; and ``GET /v1/practice-clients/{beneficiary_id}``,
which tells the beneficiary service's machine account, for its subject access
export, which groups a person took part in.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.training.outbox.jobs import announce_writes
from services.training.practice import service as practice_service
from services.training.practice.service import (
    GroupCreate,
    GroupRead,
    PracticeSessionCreate,
    ReviewCreate,
    ReviewRead,
)
from services.training.trainees.router import TrainingActor
from shared.app import RuntimeDep
from shared.auth import MachineDep
from shared.contracts.erasure import ClientParticipation
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Unavailable,
    problem_responses,
)

router = APIRouter(prefix="/v1/practice-groups", tags=["supervised practice"])


@router.post(
    "",
    status_code=201,
    response_model=GroupRead,
    responses=problem_responses(NotFound, Conflict, Invalid, Unavailable),
)
async def create_group(
    body: GroupCreate, session: SessionDep, runtime: RuntimeDep, actor: TrainingActor
) -> GroupRead:
    """A client group run by trainees; clients are checked by pseudonymous id
    with the beneficiary service."""
    async with session.begin():
        group = await practice_service.create_group(
            session, actor.principal, runtime, body
        )
        return practice_service.to_group_read(group)


@router.post(
    "/{group_id}/sessions",
    status_code=201,
    response_model=GroupRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def record_session(
    group_id: uuid.UUID,
    body: PracticeSessionCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
) -> GroupRead:
    """A session by phase, with client attendance and recording metadata."""
    async with session.begin():
        await practice_service.record_session(session, actor.principal, group_id, body)
        group = await practice_service.get_group(session, actor.principal, group_id)
        read = practice_service.to_group_read(group)
    await announce_writes(runtime)
    return read


@router.post(
    "/{group_id}/sessions/{number}/fidelity-reviews",
    status_code=201,
    response_model=ReviewRead,
    responses=problem_responses(NotFound, Invalid),
)
async def review_session_fidelity(
    group_id: uuid.UUID,
    number: int,
    body: ReviewCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
) -> ReviewRead:
    """Review a recorded session against the model's fidelity checklist."""
    async with session.begin():
        review = await practice_service.review_session_fidelity(
            session, actor.principal, runtime, group_id, number, body
        )
        read = ReviewRead(
            id=review.id,
            session_id=review.session_id,
            checklist=review.checklist,
            reviewer=review.reviewer,
            reviewed_on=review.reviewed_on,
            adherence_score=review.adherence_score,
        )
    await announce_writes(runtime)
    return read


clients_router = APIRouter(prefix="/v1/practice-clients", tags=["supervised practice"])


@clients_router.get(
    "/{beneficiary_id}",
    response_model=ClientParticipation,
    responses=problem_responses(Forbidden),
)
async def client_participation(
    beneficiary_id: uuid.UUID,
    session: SessionDep,
    principal: MachineDep,
) -> ClientParticipation:
    """For the beneficiary service's subject access export (machine accounts
    only): the practice groups of the organisation it acts for that this
    pseudonymous id is a client of, and the sessions they attended."""
    async with session.begin():
        return await practice_service.client_participation(
            session, principal.organisation_id, beneficiary_id
        )
