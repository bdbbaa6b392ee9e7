"""HTTP API for the care inside one case (``/v1/cases/{case_id}``): the plan,
follow-up contacts and safety plans. Every read or write is audited as an
access to the case.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.beneficiary.access import CaseActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.cases import care
from services.beneficiary.cases import service as cases_service
from services.beneficiary.cases.care import (
    FollowUpRead,
    FollowUpWrite,
    PlanRead,
    PlanWrite,
    SafetyPlanRead,
    SafetyPlanWrite,
)
from services.beneficiary.db import OnceDep
from services.beneficiary.outbox.jobs import announce_writes
from shared.app import RuntimeDep
from shared.audit import Actor
from shared.concurrency import etag, expected_version
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    Invalid,
    NotFound,
    PreconditionRequired,
    VersionConflict,
    problem_responses,
)

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["cases"])


@router.put(
    "/plan",
    response_model=PlanRead,
    responses=problem_responses(
        NotFound, Conflict, Invalid, VersionConflict, PreconditionRequired
    ),
)
async def write_plan(
    case_id: uuid.UUID,
    body: PlanWrite,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> PlanRead:
    """Agree or revise the case plan (a new version each time). Revising
    needs If-Match with the version read (428 without it, 409 when stale)."""
    principal = actor.principal
    expected = expected_version(if_match) if if_match is not None else None

    async def write() -> PlanRead:
        await cases_service.get_case(session, principal, case_id, for_update=True)
        current = await _plan_in_force(session, runtime, actor, case_id)
        version = current.version if current is not None else 0
        if current is not None and expected is None:
            raise PreconditionRequired(
                "This case has a plan: send If-Match with the version you revised."
            )
        if expected is not None and expected != version:
            raise VersionConflict(
                f"You revised version {expected}; the plan is at version {version}.",
                current=current.model_dump(mode="json") if current else None,
            )
        plan = await care.write_plan(session, principal, runtime.keyring, case_id, body)
        audit_log.record(session, actor, "write_plan", "case", [case_id])
        return plan

    async with session.begin():
        plan, replayed = await once.act(
            principal,
            f"PUT /v1/cases/{case_id}/plan If-Match: {expected}",
            body,
            write,
            lambda _: care.current_plan(session, principal, runtime.keyring, case_id),
            identify=lambda _: case_id,
        )
    response.headers["ETag"] = etag(plan.version)
    return plan


async def _plan_in_force(
    session: SessionDep, runtime: RuntimeDep, actor: Actor, case_id: uuid.UUID
) -> PlanRead | None:
    try:
        return await care.current_plan(
            session, actor.principal, runtime.keyring, case_id
        )
    except NotFound:
        return None


@router.get("/plan", response_model=PlanRead, responses=problem_responses(NotFound))
async def read_plan(
    case_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
) -> PlanRead:
    """The plan in force; its version is the ETag to revise it with."""
    async with session.begin():
        plan = await care.current_plan(
            session, actor.principal, runtime.keyring, case_id
        )
        audit_log.record(session, actor, "read_plan", "case", [case_id])
    response.headers["ETag"] = etag(plan.version)
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
    once: OnceDep,
) -> FollowUpRead:
    """A follow-up contact; it also counts once as a service to the person."""
    principal = actor.principal

    async def record() -> FollowUpRead:
        follow_up = await care.record_follow_up(
            session, principal, runtime.keyring, case_id, body
        )
        audit_log.record(session, actor, "follow_up", "case", [case_id])
        return follow_up

    async def load(existing: uuid.UUID) -> FollowUpRead:
        rows = await care.list_follow_ups(session, principal, runtime.keyring, case_id)
        return next(f for f in rows if f.id == existing)

    async with session.begin():
        follow_up, replayed = await once.act(
            principal,
            f"POST /v1/cases/{case_id}/follow-ups",
            body,
            record,
            load,
        )
    if not replayed:
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
        audit_log.record(session, actor, "read_follow_ups", "case", [case_id])
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
    once: OnceDep,
) -> SafetyPlanRead:
    """Record a new version of the person's safety plan. A replay (same
    Idempotency-Key) answers the version in force."""
    principal = actor.principal

    async def write() -> SafetyPlanRead:
        plan = await care.write_safety_plan(
            session, principal, runtime.keyring, case_id, body
        )
        audit_log.record(session, actor, "write_safety_plan", "case", [case_id])
        return plan

    async def load(_: uuid.UUID) -> SafetyPlanRead:
        plans = await care.safety_plans(session, principal, runtime.keyring, case_id)
        return plans[0]

    async with session.begin():
        plan, replayed = await once.act(
            principal,
            f"POST /v1/cases/{case_id}/safety-plans",
            body,
            write,
            load,
            identify=lambda _: case_id,
        )
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
        audit_log.record(session, actor, "read_safety_plans", "case", [case_id])
    return plans
