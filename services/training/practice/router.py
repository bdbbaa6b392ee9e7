"""HTTP API for supervised practice: create a group, record its sessions,
review a session's fidelity; and ``GET /v1/practice-clients/{beneficiary_id}``,
which tells the beneficiary service's machine account, for its subject access
export, which groups a person took part in.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.training.access import TrainingActor
from services.training.db import OnceDep
from services.training.practice import service as practice_service
from services.training.practice.models import FidelityReview, PracticeGroup
from services.training.practice.service import (
    GroupCreate,
    GroupRead,
    PracticeSessionCreate,
    ReviewCreate,
    ReviewRead,
)
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
from shared.idempotency import acted_on, mark_replay
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/practice-groups", tags=["supervised practice"])


@router.get("", response_model=Page[GroupRead])
async def list_groups(
    session: SessionDep,
    actor: TrainingActor,
    cohort_id: uuid.UUID | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[GroupRead]:
    """Your organisation's practice groups, the latest started first (client
    counts, never client ids)."""
    async with session.begin():
        page = await practice_service.list_groups(
            session, actor.principal, cohort_id=cohort_id, cursor=cursor, limit=limit
        )
    return page.map(practice_service.to_group_read)


@router.get(
    "/{group_id}", response_model=GroupRead, responses=problem_responses(NotFound)
)
async def get_group(
    group_id: uuid.UUID, session: SessionDep, actor: TrainingActor
) -> GroupRead:
    """One supervised practice group."""
    async with session.begin():
        group = await practice_service.get_group(session, actor.principal, group_id)
    return practice_service.to_group_read(group)


@router.post(
    "",
    status_code=201,
    response_model=GroupRead,
    responses=problem_responses(NotFound, Conflict, Invalid, Unavailable),
)
async def create_group(
    body: GroupCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    once: OnceDep,
) -> GroupRead:
    """A client group run by trainees; clients are checked by pseudonymous id
    with the beneficiary service."""
    principal = actor.principal
    return await once.answer(
        principal,
        "POST /v1/practice-groups",
        body,
        lambda: practice_service.create_group(session, principal, runtime, body),
        lambda existing: practice_service.get_group(session, principal, existing),
        _group_read,
        audit=None,  # pseudonymous clients only: the row keeps who made it
    )


@router.post(
    "/{group_id}/sessions",
    status_code=201,
    response_model=GroupRead,
    responses=problem_responses(NotFound, Conflict, Invalid, Unavailable),
)
async def record_session(
    group_id: uuid.UUID,
    body: PracticeSessionCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    once: OnceDep,
) -> GroupRead:
    """A session by phase, with client attendance and recording metadata;
    linked by ``group_session_id`` to the group activity it was recorded as
    in the beneficiary service (checked there), whose attendance it takes."""
    principal = actor.principal

    async def record() -> uuid.UUID:
        await practice_service.record_session(
            session, principal, runtime, group_id, body
        )
        return group_id

    async def render(_: uuid.UUID) -> GroupRead:
        return await _group_read(
            await practice_service.get_group(session, principal, group_id)
        )

    return await once.answer(
        principal,
        f"POST /v1/practice-groups/{group_id}/sessions",
        body,
        record,
        acted_on,
        render,
        audit=None,  # practice sessions were never audited; the event stays
    )


@router.post(
    "/{group_id}/sessions/{number}/fidelity-reviews",
    status_code=201,
    response_model=ReviewRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def review_session_fidelity(
    group_id: uuid.UUID,
    number: int,
    body: ReviewCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    once: OnceDep,
) -> ReviewRead:
    """Review a recorded session against the model's fidelity checklist.
    Send a client ``id`` (or an Idempotency-Key) so a retry reviews once."""
    principal = actor.principal

    async def load(existing: uuid.UUID) -> tuple[FidelityReview, bool]:
        return await practice_service.get_review(session, principal, existing), False

    async def render(done: tuple[FidelityReview, bool]) -> tuple[ReviewRead, bool]:
        return practice_service.to_review_read(done[0]), done[1]

    read, created = await once.answer(
        principal,
        f"POST /v1/practice-groups/{group_id}/sessions/{number}/fidelity-reviews",
        body,
        lambda: practice_service.review_session_fidelity(
            session, principal, runtime, group_id, number, body
        ),
        load,
        render,
        # reviews were never audited; a client id seen before reviews nothing
        # (no event), answered as a replay
        audit=None,
        identify=lambda done: done[0].id,
    )
    mark_replay(once.response, not created)
    return read


async def _group_read(group: PracticeGroup) -> GroupRead:
    return practice_service.to_group_read(group)


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
