"""HTTP API for mentoring: plans, their visits (with action points) and the
follow-up of action points under If-Match. Every write is audited, acts once
per Idempotency-Key and is announced to the outbox after it commits."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel

from services.training.access import TrainingActor
from services.training.db import OnceDep, audit_log
from services.training.mentoring import service as mentoring_service
from services.training.mentoring.models import (
    ActionPoint,
    MentoringPlan,
    MentoringVisit,
)
from services.training.mentoring.schemas import (
    ActionPointRead,
    ActionPointUpdate,
    PlanCreate,
    PlanProgress,
    PlanRead,
    VisitCreate,
    VisitRead,
)
from shared.app import RuntimeDep
from shared.audit import Actor
from shared.concurrency import etag, expected_version
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    Invalid,
    NotFound,
    PreconditionRequired,
    Unavailable,
    VersionConflict,
    problem_responses,
)
from shared.idempotency import Once
from shared.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    Page,
)

router = APIRouter(tags=["mentoring"])
T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)


async def _write(
    once: Once,
    actor: Actor,
    route: str,
    body: BaseModel,
    act: Callable[[], Awaitable[T]],
    load: Callable[[uuid.UUID], Awaitable[T]],
    render: Callable[[T], Awaitable[R]],
    kind: str,
) -> R:
    return await once.answer(
        actor.principal,
        route,
        body,
        act,
        load,
        render,
        audit=audit_log.trail(actor, "write", kind),
    )


@router.post(
    "/v1/mentoring-plans",
    status_code=201,
    response_model=PlanRead,
    responses=problem_responses(Invalid, Conflict, Unavailable),
)
async def create_plan(
    body: PlanCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    once: OnceDep,
) -> PlanRead:
    """A mentoring plan for an organisation or a person, with its goals."""
    principal = actor.principal

    async def render(plan: MentoringPlan) -> PlanRead:
        return PlanRead.model_validate(plan)

    return await _write(
        once,
        actor,
        "POST /v1/mentoring-plans",
        body,
        lambda: mentoring_service.create_plan(session, principal, runtime, body),
        lambda existing: mentoring_service.get_plan(session, principal, existing),
        render,
        "mentoring_plan",
    )


@router.get("/v1/mentoring-plans", response_model=Page[PlanRead])
async def list_plans(
    session: SessionDep,
    actor: TrainingActor,
    mentored_organisation_id: uuid.UUID | None = None,
    project_id: Annotated[
        uuid.UUID | None, Query(description="Only the plans of this project.")
    ] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[PlanRead]:
    """Your organisation's mentoring plans, oldest first."""
    async with session.begin():
        page = await mentoring_service.list_plans(
            session,
            actor.principal,
            mentored_organisation_id,
            project_id=project_id,
            cursor=cursor,
            limit=limit,
        )
    return page.map(PlanRead.model_validate)


@router.get(
    "/v1/mentoring-plans/{plan_id}",
    response_model=PlanProgress,
    responses=problem_responses(NotFound),
)
async def get_plan(
    plan_id: uuid.UUID, session: SessionDep, actor: TrainingActor
) -> PlanProgress:
    """The plan with its visits, hours and action points by status."""
    async with session.begin():
        return await mentoring_service.progress(session, actor.principal, plan_id)


@router.post(
    "/v1/mentoring-plans/{plan_id}/visits",
    status_code=201,
    response_model=VisitRead,
    responses=problem_responses(Invalid, Conflict, NotFound),
)
async def record_visit(
    plan_id: uuid.UUID,
    body: VisitCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    once: OnceDep,
) -> VisitRead:
    """A visit or remote session with its action points."""
    principal = actor.principal

    async def render(visit: MentoringVisit) -> VisitRead:
        points = await mentoring_service.points_of(session, principal, [visit.id])
        return mentoring_service.visit_read(visit, points, runtime.keyring)

    return await _write(
        once,
        actor,
        f"POST /v1/mentoring-plans/{plan_id}/visits",
        body,
        lambda: mentoring_service.record_visit(
            session, principal, runtime.keyring, plan_id, body
        ),
        lambda existing: mentoring_service.get_visit(session, principal, existing),
        render,
        "mentoring_visit",
    )


@router.get(
    "/v1/mentoring-plans/{plan_id}/visits",
    response_model=Page[VisitRead],
    responses=problem_responses(NotFound),
)
async def list_visits(
    plan_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[VisitRead]:
    """A plan's visits and remote sessions, oldest first."""

    async def fetch() -> tuple[Page[MentoringVisit], list[ActionPoint]]:
        page = await mentoring_service.visit_page(
            session, actor.principal, plan_id, cursor=cursor, limit=limit
        )
        points = await mentoring_service.points_of(
            session, actor.principal, [v.id for v in page.items]
        )
        return page, points

    page, points = await audit_log.read(
        session,
        actor,
        "list",
        "mentoring_visit",
        fetch,
        lambda found: [v.id for v in found[0].items],
    )
    return page.map(lambda v: mentoring_service.visit_read(v, points, runtime.keyring))


@router.post(
    "/v1/action-points/{action_point_id}/status",
    response_model=ActionPointRead,
    responses=problem_responses(
        Invalid, NotFound, VersionConflict, PreconditionRequired
    ),
)
async def update_action_point(
    action_point_id: uuid.UUID,
    body: ActionPointUpdate,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> ActionPointRead:
    """Follow an action point up: send the version you read in If-Match."""
    version = expected_version(if_match)
    principal = actor.principal

    async def render(point: ActionPoint) -> ActionPointRead:
        return mentoring_service.point_read(point, runtime.keyring)

    read: Any = await _write(
        once,
        actor,
        f"POST /v1/action-points/{action_point_id}/status If-Match: {version}",
        body,
        lambda: mentoring_service.update_action_point(
            session, principal, action_point_id, body, version
        ),
        lambda existing: mentoring_service.get_action_point(
            session, principal, existing
        ),
        render,
        "action_point",
    )
    response.headers["ETag"] = etag(read.version)
    return read  # type: ignore[no-any-return]
