"""Mentoring plans, visits and action points. A plan's goals name domains of
a shipped capacity tool (or competency items); a visit's action points start
open and move under If-Match; every write stages its event."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.training.cohorts.service import own_trainees
from services.training.db import OutboxEvent
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
from services.training.references import NamedProject, check_references
from shared.app import Runtime
from shared.auth import Principal
from shared.contracts.events import ActionPointFacts, EventType, MentoringVisitFacts
from shared.crypto import KeyRing
from shared.db import utcnow
from shared.errors import Conflict, FieldError, Invalid, VersionConflict
from shared.outbox import add_event
from shared.pagination import Page, ordered_page
from shared.scoping import get_in_scope
from shared.taxonomy.capacity import capacity_tools

DONE = "done"


def _invalid(loc: list[str | int], msg: str) -> Invalid:
    return Invalid(msg, errors=[FieldError(loc=loc, msg=msg, type="value")])


async def create_plan(
    session: AsyncSession, principal: Principal, runtime: Runtime, data: PlanCreate
) -> MentoringPlan:
    """A plan for one organisation or one trainee; goals on capacity
    domains must name domains of the plan's tool; the organisation and the
    project, when named, are checked at the beneficiary service."""
    if data.id is not None:
        existing = await session.get(
            MentoringPlan, (principal.organisation_id, data.id)
        )
        if existing is not None:
            return existing
    if data.trainee_id is not None:
        await own_trainees(session, principal, [data.trainee_id], "trainee_id")
    domains = {g.capacity_domain for g in data.goals if g.capacity_domain}
    if domains:
        tool = capacity_tools().get(data.capacity_tool or "")
        if tool is None:
            raise _invalid(["body", "capacity_tool"], "unknown capacity tool")
        unknown = domains - {d.code for d in tool.domains}
        if unknown:
            raise _invalid(
                ["body", "goals"], f"unknown capacity domains: {sorted(unknown)}"
            )
    await check_references(
        runtime,
        principal.organisation_id,
        organisations=[
            (["body", "mentored_organisation_id"], data.mentored_organisation_id)
        ],
        project=NamedProject(
            ["body", "project_id"], data.project_id, data.starts_on, data.ends_on
        ),
    )
    plan = MentoringPlan(
        id=data.id or uuid.uuid4(),
        organisation_id=principal.organisation_id,
        mentored_organisation_id=data.mentored_organisation_id,
        trainee_id=data.trainee_id,
        capacity_tool=data.capacity_tool,
        project_id=data.project_id,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        goals=[g.model_dump(mode="json") for g in data.goals],
        created_by=principal.subject,
    )
    session.add(plan)
    await session.flush()
    return plan


async def get_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> MentoringPlan:
    return await get_in_scope(
        session, principal, MentoringPlan, plan_id, what="mentoring plan"
    )


async def list_plans(
    session: AsyncSession,
    principal: Principal,
    mentored_organisation_id: uuid.UUID | None,
    *,
    project_id: uuid.UUID | None = None,
    cursor: str | None,
    limit: int,
) -> Page[MentoringPlan]:
    """The organisation's plans, the earliest start first, one page read."""
    statement = select(MentoringPlan).where(
        col(MentoringPlan.organisation_id) == principal.organisation_id
    )
    if mentored_organisation_id is not None:
        statement = statement.where(
            col(MentoringPlan.mentored_organisation_id) == mentored_organisation_id
        )
    if project_id is not None:
        statement = statement.where(col(MentoringPlan.project_id) == project_id)
    return await ordered_page(
        session,
        statement,
        keys=[(col(MentoringPlan.starts_on), date.fromisoformat)],
        cursor=cursor,
        limit=limit,
    )


def _observations(visit_id: uuid.UUID) -> str:
    return f"mentoring_visit:{visit_id}:observations"


def _details(action_point_id: uuid.UUID) -> str:
    return f"action_point:{action_point_id}:details"


def _action_facts(point: ActionPoint, plan: MentoringPlan) -> ActionPointFacts:
    return ActionPointFacts(
        action_point_id=point.id,
        visit_id=point.visit_id,
        plan_id=point.plan_id,
        organisation_id=point.organisation_id,
        mentored_organisation_id=plan.mentored_organisation_id,
        due_on=point.due_on,
        status=point.status,
        completed_on=point.completed_on,
        project_id=plan.project_id,
    )


async def record_visit(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    plan_id: uuid.UUID,
    data: VisitCreate,
) -> MentoringVisit:
    """A visit or remote session with its action points (each open)."""
    if data.id is not None:
        existing = await session.get(
            MentoringVisit, (principal.organisation_id, data.id)
        )
        if existing is not None:
            return existing
    plan = await get_plan(session, principal, plan_id)
    await own_trainees(
        session, principal, data.participant_trainee_ids, "participant_trainee_ids"
    )
    goals = {g["code"] for g in plan.goals}
    if set(data.goal_codes) - goals:
        raise _invalid(["body", "goal_codes"], "not a goal of this plan")
    point_ids = [p.id for p in data.action_points if p.id is not None]
    if point_ids:
        taken = await session.execute(
            select(col(ActionPoint.id)).where(
                col(ActionPoint.organisation_id) == principal.organisation_id,
                col(ActionPoint.id).in_(point_ids),
            )
        )
        if taken.first() is not None or len(set(point_ids)) != len(point_ids):
            raise Conflict("An action point with this id exists already.")
    visit_id = data.id or uuid.uuid4()
    visit = MentoringVisit(
        id=visit_id,
        organisation_id=principal.organisation_id,
        plan_id=plan.id,
        held_on=data.held_on,
        mode=data.mode,
        duration_minutes=data.duration_minutes,
        mentor=principal.subject,
        participant_trainee_ids=[str(t) for t in data.participant_trainee_ids],
        participants=data.participants,
        topics=list(data.topics),
        goal_codes=list(data.goal_codes),
        observations_enc=keyring.encrypt(data.observations, _observations(visit_id)),
    )
    session.add(visit)
    await session.flush()
    for item in data.action_points:
        point_id = item.id or uuid.uuid4()
        point = ActionPoint(
            id=point_id,
            organisation_id=principal.organisation_id,
            plan_id=plan.id,
            visit_id=visit_id,
            details_enc=keyring.encrypt(
                json.dumps({"description": item.description, "owner": item.owner}),
                _details(point_id),
            ),
            due_on=item.due_on,
        )
        session.add(point)
        _announce_point(session, point, plan)
    add_event(
        session,
        OutboxEvent,
        type=EventType.mentoring_visit_recorded,
        organisation_id=principal.organisation_id,
        entity_type="mentoring_visit",
        entity_id=visit_id,
        facts=MentoringVisitFacts(
            visit_id=visit_id,
            plan_id=plan.id,
            organisation_id=principal.organisation_id,
            mentored_organisation_id=plan.mentored_organisation_id,
            held_on=data.held_on,
            mode=data.mode,
            duration_minutes=data.duration_minutes,
            participants=data.participants,
            action_points=len(data.action_points),
            project_id=plan.project_id,
        ),
    )
    await session.flush()
    return visit


def _announce_point(
    session: AsyncSession, point: ActionPoint, plan: MentoringPlan
) -> None:
    add_event(
        session,
        OutboxEvent,
        type=EventType.action_point_updated,
        organisation_id=point.organisation_id,
        entity_type="action_point",
        entity_id=point.id,
        facts=_action_facts(point, plan),
    )


async def get_visit(
    session: AsyncSession, principal: Principal, visit_id: uuid.UUID
) -> MentoringVisit:
    return await get_in_scope(
        session, principal, MentoringVisit, visit_id, what="mentoring visit"
    )


def _visits(plan: MentoringPlan) -> Any:
    return select(MentoringVisit).where(
        col(MentoringVisit.plan_id) == plan.id,
        col(MentoringVisit.organisation_id) == plan.organisation_id,
    )


async def visits_of(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> list[MentoringVisit]:
    """Every visit of a plan (its progress counts them all)."""
    plan = await get_plan(session, principal, plan_id)
    rows = await session.execute(
        _visits(plan).order_by(col(MentoringVisit.held_on), col(MentoringVisit.id))
    )
    return list(rows.scalars())


async def visit_page(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> Page[MentoringVisit]:
    """One page of a plan's visits, the earliest first: only its rows are
    read, decrypted and audited."""
    plan = await get_plan(session, principal, plan_id)
    return await ordered_page(
        session,
        _visits(plan),
        keys=[(col(MentoringVisit.held_on), date.fromisoformat)],
        cursor=cursor,
        limit=limit,
    )


async def points_of(
    session: AsyncSession, principal: Principal, visit_ids: list[uuid.UUID]
) -> list[ActionPoint]:
    return await _points_in(session, principal.organisation_id, visit_ids)


async def update_action_point(
    session: AsyncSession,
    principal: Principal,
    point_id: uuid.UUID,
    data: ActionPointUpdate,
    expected_version: int,
) -> ActionPoint:
    """Move an action point (open, in progress, done, dropped); the version
    read must be named, so two mentors never overwrite each other."""
    point = await get_in_scope(
        session, principal, ActionPoint, point_id, what="action point", for_update=True
    )
    if point.version != expected_version:
        raise VersionConflict(
            f"You edited version {expected_version}; the server has "
            f"version {point.version}."
        )
    visit = await session.get(MentoringVisit, (point.organisation_id, point.visit_id))
    if visit is not None and data.on < visit.held_on:
        raise _invalid(["body", "on"], "before the visit that agreed it")
    point.status = data.status
    point.completed_on = data.on if data.status == DONE else None
    point.version += 1
    point.updated_at = utcnow()
    plan = await session.get(MentoringPlan, (point.organisation_id, point.plan_id))
    assert plan is not None
    _announce_point(session, point, plan)
    await session.flush()
    return point


async def get_action_point(
    session: AsyncSession, principal: Principal, point_id: uuid.UUID
) -> ActionPoint:
    return await get_in_scope(
        session, principal, ActionPoint, point_id, what="action point"
    )


def point_read(point: ActionPoint, keyring: KeyRing) -> ActionPointRead:
    plain = keyring.decrypt(point.details_enc, _details(point.id))
    details = json.loads(plain) if plain else {}
    return ActionPointRead(
        id=point.id,
        plan_id=point.plan_id,
        visit_id=point.visit_id,
        description=details.get("description"),
        owner=details.get("owner"),
        due_on=point.due_on,
        status=point.status,
        completed_on=point.completed_on,
        version=point.version,
    )


def visit_read(
    visit: MentoringVisit, points: list[ActionPoint], keyring: KeyRing
) -> VisitRead:
    return VisitRead(
        id=visit.id,
        plan_id=visit.plan_id,
        held_on=visit.held_on,
        mode=visit.mode,
        duration_minutes=visit.duration_minutes,
        mentor=visit.mentor,
        participant_trainee_ids=[uuid.UUID(t) for t in visit.participant_trainee_ids],
        participants=visit.participants,
        topics=visit.topics,
        goal_codes=visit.goal_codes,
        observations=keyring.decrypt(visit.observations_enc, _observations(visit.id)),
        action_points=[
            point_read(p, keyring) for p in points if p.visit_id == visit.id
        ],
    )


async def progress(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> PlanProgress:
    """The plan, its visits' count and hours, and its action points by status."""
    plan = await get_plan(session, principal, plan_id)
    visits = await visits_of(session, principal, plan_id)
    points = await points_of(session, principal, [v.id for v in visits])
    by_status = Counter(p.status for p in points)
    return PlanProgress(
        plan=PlanRead.model_validate(plan),
        visits=len(visits),
        hours=round(sum(v.duration_minutes for v in visits) / 60, 2),
        action_points={
            s: by_status.get(s, 0) for s in ("open", "in_progress", DONE, "dropped")
        },
        capacity_change=f"/v1/capacity-change?mentoring_plan_id={plan.id}",
    )


async def forget_text_about(
    session: AsyncSession, organisation_id: uuid.UUID, trainee_id: str
) -> None:
    """A trainee's erasure: observations of the visits they took part in, the
    wording of those visits' action points and of every visit of a plan for
    them go whole (free text can single them out without their name)."""
    plans = await session.execute(
        select(col(MentoringPlan.id)).where(
            col(MentoringPlan.organisation_id) == organisation_id,
            col(MentoringPlan.trainee_id) == uuid.UUID(trainee_id),
        )
    )
    theirs = set(plans.scalars())
    visits = await session.execute(
        select(MentoringVisit).where(
            col(MentoringVisit.organisation_id) == organisation_id
        )
    )
    touched = []
    for visit in visits.scalars():
        if trainee_id in visit.participant_trainee_ids or visit.plan_id in theirs:
            visit.observations_enc = None
            touched.append(visit.id)
    for point in await _points_in(session, organisation_id, touched):
        point.details_enc = None


async def _points_in(
    session: AsyncSession, organisation_id: uuid.UUID, visit_ids: list[uuid.UUID]
) -> list[ActionPoint]:
    if not visit_ids:
        return []
    rows = await session.execute(
        select(ActionPoint)
        .where(
            col(ActionPoint.organisation_id) == organisation_id,
            col(ActionPoint.visit_id).in_(visit_ids),
        )
        .order_by(col(ActionPoint.due_on), col(ActionPoint.id))
    )
    return list(rows.scalars())
