"""HTTP API for the care inside one case (``/v1/cases/{case_id}``): the plan,
follow-up contacts and safety plans. Every read or write is audited as an
access to the case.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.beneficiary.audit.models import AuditEntry
from services.beneficiary.cases import care
from services.beneficiary.cases.care import (
    FollowUpRead,
    FollowUpWrite,
    PlanRead,
    PlanWrite,
    SafetyPlanRead,
    SafetyPlanWrite,
)
from services.beneficiary.cases.router import CaseActor
from services.beneficiary.outbox.jobs import announce_writes
from shared.app import RuntimeDep
from shared.audit import Actor, record_access
from shared.db import SessionDep
from shared.errors import Conflict, Invalid, NotFound, problem_responses

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["cases"])


def _audit(session: SessionDep, actor: Actor, action: str, case_id: uuid.UUID) -> None:
    record_access(
        session,
        AuditEntry,
        actor,
        action=action,
        entity_type="case",
        entity_ids=[case_id],
    )


@router.put(
    "/plan",
    response_model=PlanRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def write_plan(
    case_id: uuid.UUID,
    body: PlanWrite,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
) -> PlanRead:
    """Agree or revise the case plan (a new version each time)."""
    async with session.begin():
        plan = await care.write_plan(
            session, actor.principal, runtime.keyring, case_id, body
        )
        _audit(session, actor, "write_plan", case_id)
    return plan


@router.get("/plan", response_model=PlanRead, responses=problem_responses(NotFound))
async def read_plan(
    case_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, actor: CaseActor
) -> PlanRead:
    async with session.begin():
        plan = await care.current_plan(
            session, actor.principal, runtime.keyring, case_id
        )
        _audit(session, actor, "read_plan", case_id)
    return plan


@router.post(
    "/follow-ups",
    status_code=201,
    response_model=FollowUpRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def record_follow_up(
    case_id: uuid.UUID,
    body: FollowUpWrite,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
) -> FollowUpRead:
    """A follow-up contact; it also counts once as a service to the person."""
    async with session.begin():
        follow_up = await care.record_follow_up(
            session, actor.principal, runtime.keyring, case_id, body
        )
        _audit(session, actor, "follow_up", case_id)
    await announce_writes(runtime)
    return follow_up


@router.get(
    "/follow-ups",
    response_model=list[FollowUpRead],
    responses=problem_responses(NotFound),
)
async def list_follow_ups(
    case_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, actor: CaseActor
) -> list[FollowUpRead]:
    async with session.begin():
        rows = await care.list_follow_ups(
            session, actor.principal, runtime.keyring, case_id
        )
        _audit(session, actor, "read_follow_ups", case_id)
    return rows


@router.post(
    "/safety-plans",
    status_code=201,
    response_model=SafetyPlanRead,
    responses=problem_responses(NotFound),
)
async def write_safety_plan(
    case_id: uuid.UUID,
    body: SafetyPlanWrite,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
) -> SafetyPlanRead:
    """Record a new version of the person's safety plan."""
    async with session.begin():
        plan = await care.write_safety_plan(
            session, actor.principal, runtime.keyring, case_id, body
        )
        _audit(session, actor, "write_safety_plan", case_id)
    return plan


@router.get(
    "/safety-plans",
    response_model=list[SafetyPlanRead],
    responses=problem_responses(NotFound),
)
async def list_safety_plans(
    case_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, actor: CaseActor
) -> list[SafetyPlanRead]:
    """Every version, newest (in force) first."""
    async with session.begin():
        plans = await care.safety_plans(
            session, actor.principal, runtime.keyring, case_id
        )
        _audit(session, actor, "read_safety_plans", case_id)
    return plans
