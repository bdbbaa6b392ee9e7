"""HTTP API for the care inside one case (``/v1/cases/{case_id}``): the plan,
follow-up contacts and safety plans. Every read or write is audited as an
access to the case.
"""

from __future__ import annotations

import uuid
from typing import Annotated, TypeVar

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
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page, listed_page

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["cases"])
T = TypeVar("T")


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
        return await care.write_plan(session, principal, runtime.keyring, case_id, body)

    return await once.answer_versioned(
        principal,
        f"PUT /v1/cases/{case_id}/plan If-Match: {expected}",
        body,
        write,
        lambda _: care.current_plan(session, principal, runtime.keyring, case_id),
        _same,
        audit=audit_log.trail(actor, "write_plan", "case", lambda _: [case_id]),
        identify=lambda _: case_id,
    )


async def _same(read: T) -> T:
    """The act's answer is already what the client reads."""
    return read


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
    plan = await audit_log.read(
        session,
        actor,
        "read_plan",
        "case",
        lambda: care.current_plan(session, actor.principal, runtime.keyring, case_id),
        lambda _: [case_id],
    )
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

    async def load(existing: uuid.UUID) -> FollowUpRead:
        rows = await care.list_follow_ups(session, principal, runtime.keyring, case_id)
        return next(f for f in rows if f.id == existing)

    return await once.answer(
        principal,
        f"POST /v1/cases/{case_id}/follow-ups",
        body,
        lambda: care.record_follow_up(
            session, principal, runtime.keyring, case_id, body
        ),
        load,
        _same,
        audit=audit_log.trail(actor, "follow_up", "case", lambda _: [case_id]),
    )


@router.get(
    "/follow-ups",
    response_model=Page[FollowUpRead],
    responses=problem_responses(NotFound),
)
async def list_follow_ups(
    case_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[FollowUpRead]:
    """The case's follow-ups, the earliest first."""
    rows = await audit_log.read(
        session,
        actor,
        "read_follow_ups",
        "case",
        lambda: care.list_follow_ups(
            session, actor.principal, runtime.keyring, case_id
        ),
        lambda _: [case_id],
    )
    return listed_page(rows, key=lambda f: str(f.id), cursor=cursor, limit=limit)


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

    async def load(_: uuid.UUID) -> SafetyPlanRead:
        plans = await care.safety_plans(session, principal, runtime.keyring, case_id)
        return plans[0]

    return await once.answer(
        principal,
        f"POST /v1/cases/{case_id}/safety-plans",
        body,
        lambda: care.write_safety_plan(
            session, principal, runtime.keyring, case_id, body
        ),
        load,
        _same,
        audit=audit_log.trail(actor, "write_safety_plan", "case", lambda _: [case_id]),
        identify=lambda _: case_id,
    )


@router.get(
    "/safety-plans",
    response_model=Page[SafetyPlanRead],
    responses=problem_responses(NotFound),
)
async def list_safety_plans(
    case_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[SafetyPlanRead]:
    """Every version, newest (in force) first."""
    plans = await audit_log.read(
        session,
        actor,
        "read_safety_plans",
        "case",
        lambda: care.safety_plans(session, actor.principal, runtime.keyring, case_id),
        lambda _: [case_id],
    )
    return listed_page(plans, key=lambda p: str(p.version), cursor=cursor, limit=limit)
