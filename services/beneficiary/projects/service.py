"""Rules for projects: the lead's programme manager sets one up with its
partners, places and targets; the lead and the listed partners read it and
tag their records with it, within its period; each save is a
``project.saved`` event, so reporting knows the targets it answers against."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.db import OutboxEvent
from services.beneficiary.locations import service as locations_service
from services.beneficiary.organisations.models import Organisation
from services.beneficiary.projects.models import Project
from services.beneficiary.projects.schemas import (
    ProjectCreate,
    ProjectRead,
    ProjectUpdate,
)
from shared.auth import Principal
from shared.contracts.events import EventType, ProjectFacts, ProjectTarget
from shared.contracts.lookups import ProjectPeriod
from shared.db import get_cached, utcnow
from shared.errors import FieldError, Invalid, NotFound, VersionConflict
from shared.outbox import add_event
from shared.pagination import Page, keyset_page


async def _check_members(
    session: AsyncSession,
    lead_id: uuid.UUID,
    partner_ids: list[uuid.UUID],
    location_ids: list[uuid.UUID],
) -> None:
    """Partners are registered organisations other than the lead; places
    are known locations (any level: a governorate covers its sites)."""
    if lead_id in partner_ids:
        raise Invalid.field(
            ["body", "partner_organisation_ids"],
            "the lead itself",
            "lead_as_partner",
            "The lead organisation is not its own partner.",
        )
    if partner_ids:
        found = set(
            (
                await session.execute(
                    select(col(Organisation.id)).where(
                        col(Organisation.id).in_(partner_ids)
                    )
                )
            ).scalars()
        )
        if len(found) != len(set(partner_ids)):
            raise Invalid.field(
                ["body", "partner_organisation_ids"],
                "unknown organisation",
                "unknown_organisation",
                "Some partner organisations are not registered.",
            )
    await locations_service.require_locations(
        session, location_ids, ["body", "location_ids"]
    )


async def create_project(
    session: AsyncSession, principal: Principal, data: ProjectCreate
) -> Project:
    """A project led by the caller's organisation."""
    await _check_members(
        session,
        principal.organisation_id,
        data.partner_organisation_ids,
        data.location_ids,
    )
    stored = data.model_dump(mode="json")
    project = Project(
        organisation_id=principal.organisation_id,
        created_by=principal.subject,
        name=data.name,
        donor=data.donor,
        grant_code=data.grant_code,
        start=data.start,
        end=data.end,
        partner_organisation_ids=stored["partner_organisation_ids"],
        location_ids=stored["location_ids"],
        targets=stored["targets"],
    )
    session.add(project)
    _emit(session, project)
    await session.flush()
    return project


async def get_project(
    session: AsyncSession,
    principal: Principal,
    project_id: uuid.UUID,
    *,
    for_update: bool = False,
    leading: bool = False,
) -> Project:
    """A project the caller's organisation leads (``leading``) or takes part
    in; any other is a 404."""
    statement = select(Project).where(col(Project.id) == project_id)
    if for_update:
        statement = statement.with_for_update()
    project: Project | None = (await session.execute(statement)).scalar_one_or_none()
    if project is None or not _takes_part(project, principal.organisation_id, leading):
        raise NotFound("No such project.")
    return project


def _takes_part(project: Project, organisation_id: uuid.UUID, leading: bool) -> bool:
    if project.organisation_id == organisation_id:
        return True
    return not leading and str(organisation_id) in project.partner_organisation_ids


async def projects_taken_part_in(
    session: AsyncSession, principal: Principal, ids: list[uuid.UUID]
) -> dict[uuid.UUID, ProjectPeriod]:
    """The periods of those of ``ids`` that the acting organisation leads or
    is a listed partner in; any other id, existing or not, is left out."""
    rows = await session.execute(select(Project).where(col(Project.id).in_(ids)))
    return {
        project.id: ProjectPeriod(start=project.start, end=project.end)
        for project in rows.scalars()
        if _takes_part(project, principal.organisation_id, False)
    }


async def list_projects(
    session: AsyncSession, principal: Principal, *, cursor: str | None, limit: int
) -> Page[Project]:
    """Newest start first; JSON membership is checked here, not in SQL, so
    SQLite and PostgreSQL answer alike."""
    rows, next_cursor = await keyset_page(
        session,
        select(Project).where(
            (col(Project.organisation_id) == principal.organisation_id)
            | col(Project.id).in_(await _partner_project_ids(session, principal))
        ),
        key=col(Project.start),
        parse_key=date.fromisoformat,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=rows, next_cursor=next_cursor)


async def _partner_project_ids(
    session: AsyncSession, principal: Principal
) -> list[uuid.UUID]:
    rows = await session.execute(
        select(col(Project.id), col(Project.partner_organisation_ids))
    )
    mine = str(principal.organisation_id)
    return [pid for pid, partners in rows if mine in (partners or [])]


async def update_project(
    session: AsyncSession,
    principal: Principal,
    project_id: uuid.UUID,
    data: ProjectUpdate,
    expected_version: int,
) -> Project:
    """Edit a project the caller's organisation leads, at ``expected_version``."""
    project = await get_project(
        session, principal, project_id, for_update=True, leading=True
    )
    if project.version != expected_version:
        raise VersionConflict(
            f"You edited version {expected_version}; the server has "
            f"version {project.version}.",
            current=ProjectRead.model_validate(project).model_dump(mode="json"),
        )
    changes = data.model_dump(mode="json", exclude_unset=True)
    for name in ("name", "donor", "start", "end"):
        if name in changes and changes[name] is None:
            raise Invalid.field(
                ["body", name], "required", "null", f"{name} cannot be emptied."
            )
    start = data.start if data.start is not None else project.start
    end = data.end if data.end is not None else project.end
    if end < start:
        raise Invalid.field(
            ["body", "end"], "before start", "period", "The end is before the start."
        )
    await _check_members(
        session,
        project.organisation_id,
        data.partner_organisation_ids or [],
        data.location_ids or [],
    )
    for name, value in changes.items():
        if name in ("start", "end"):
            value = date.fromisoformat(value)
        setattr(project, name, value if value is not None else [])
    project.version += 1
    project.updated_at = utcnow()
    _emit(session, project)
    await session.flush()
    return project


def _emit(session: AsyncSession, project: Project) -> None:
    add_event(
        session,
        OutboxEvent,
        type=EventType.project_saved,
        organisation_id=project.organisation_id,
        entity_type="project",
        entity_id=project.id,
        facts=ProjectFacts(
            project_id=project.id,
            name=project.name,
            organisation_id=project.organisation_id,
            partner_organisation_ids=[
                uuid.UUID(p) for p in project.partner_organisation_ids
            ],
            start=project.start,
            end=project.end,
            targets=[ProjectTarget.model_validate(t) for t in project.targets],
            version=project.version,
        ),
    )


async def project_of_record(
    session: AsyncSession,
    principal: Principal,
    project_id: uuid.UUID | None,
    on: date,
    loc: list[str | int],
) -> uuid.UUID | None:
    """The project a new record names: one the caller's organisation leads
    or is a listed partner in, running on the record's date (422 otherwise,
    the same for a project that exists elsewhere as for none)."""
    if project_id is None:
        return None
    project = await get_cached(session, Project, project_id)
    if project is None or not _takes_part(project, principal.organisation_id, False):
        raise Invalid(
            "The project is not one your organisation takes part in.",
            errors=[FieldError(loc=loc, msg="unknown project", type="unknown_project")],
        )
    if not project.start <= on <= project.end:
        raise Invalid(
            f"The project runs from {project.start} to {project.end}.",
            errors=[
                FieldError(loc=loc, msg="outside the project's period", type="period")
            ],
        )
    return project_id
