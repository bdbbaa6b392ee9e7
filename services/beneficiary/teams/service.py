"""Rules for teams: an organisation's programme manager sets them up; a
team-scoped user sees its own team only; a record names a team of the
organisation that wrote it, and a team-scoped user's records are its team's."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.db import OutboxEvent
from services.beneficiary.locations.models import Location
from services.beneficiary.teams.models import Team
from services.beneficiary.teams.schemas import TeamCreate, TeamRead, TeamUpdate
from shared.auth import Principal
from shared.contracts.enums import LocationLevel
from shared.contracts.events import EventType, TeamFacts
from shared.db import get_cached, utcnow
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    VersionConflict,
)
from shared.outbox import add_event
from shared.pagination import Page, keyset_page


async def _check_governorate(
    session: AsyncSession, governorate_id: uuid.UUID | None
) -> None:
    if governorate_id is None:
        return
    place = await session.get(Location, governorate_id)
    if place is None or place.level != LocationLevel.governorate:
        raise Invalid(
            "The governorate does not exist.",
            errors=[
                FieldError(
                    loc=["body", "governorate_id"],
                    msg="unknown governorate",
                    type="unknown_governorate",
                )
            ],
        )


async def _check_name_free(
    session: AsyncSession, organisation_id: uuid.UUID, name: str, own: uuid.UUID
) -> None:
    clash = await session.execute(
        select(col(Team.id)).where(
            col(Team.organisation_id) == organisation_id,
            col(Team.name) == name,
            col(Team.id) != own,
        )
    )
    if clash.first() is not None:
        raise Conflict(f"Your organisation has a team named {name!r} already.")


async def create_team(
    session: AsyncSession, principal: Principal, data: TeamCreate
) -> Team:
    """Add a unit to the caller's organisation (names unique within it)."""
    team = Team(
        organisation_id=principal.organisation_id,
        created_by=principal.subject,
        **data.model_dump(),
    )
    await _check_governorate(session, data.governorate_id)
    await _check_name_free(session, principal.organisation_id, data.name, team.id)
    session.add(team)
    _emit(session, team)
    await session.flush()
    return team


def _emit(session: AsyncSession, team: Team) -> None:
    """Reporting names the team in breakdowns by team (``team.saved``)."""
    add_event(
        session,
        OutboxEvent,
        type=EventType.team_saved,
        organisation_id=team.organisation_id,
        entity_type="team",
        entity_id=team.id,
        facts=TeamFacts(
            team_id=team.id,
            organisation_id=team.organisation_id,
            name=team.name,
            kind=team.kind,
            active=team.active,
            version=team.version,
        ),
    )


def scoped_teams(principal: Principal) -> Any:
    """Every read of teams starts here: own organisation, own team."""
    statement = select(Team).where(
        col(Team.organisation_id) == principal.organisation_id
    )
    if principal.team_id is not None:
        statement = statement.where(col(Team.id) == principal.team_id)
    return statement


async def get_team(
    session: AsyncSession,
    principal: Principal,
    team_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Team:
    """A team of the caller's organisation (its own only, for a team-scoped
    user); any other is a 404."""
    statement = scoped_teams(principal).where(col(Team.id) == team_id)
    if for_update:
        statement = statement.with_for_update()
    team: Team | None = (await session.execute(statement)).scalar_one_or_none()
    if team is None:
        raise NotFound("No such team.")
    return team


async def list_teams(
    session: AsyncSession, principal: Principal, *, cursor: str | None, limit: int
) -> Page[Team]:
    rows, next_cursor = await keyset_page(
        session,
        scoped_teams(principal),
        key=col(Team.name),
        parse_key=str,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=rows, next_cursor=next_cursor)


async def update_team(
    session: AsyncSession,
    principal: Principal,
    team_id: uuid.UUID,
    data: TeamUpdate,
    expected_version: int,
) -> Team:
    """Rename, re-kind, move or deactivate a team edited at ``expected_version``."""
    team = await get_team(session, principal, team_id, for_update=True)
    if team.version != expected_version:
        raise VersionConflict(
            f"You edited version {expected_version}; the server has "
            f"version {team.version}.",
            current=read_dict(team),
        )
    changes = data.model_dump(exclude_unset=True)
    for name in ("name", "kind", "active"):
        if name in changes and changes[name] is None:
            raise Invalid(
                f"{name} cannot be emptied.",
                errors=[FieldError(loc=["body", name], msg="required", type="null")],
            )
    if "governorate_id" in changes:
        await _check_governorate(session, changes["governorate_id"])
    if "name" in changes:
        await _check_name_free(session, team.organisation_id, changes["name"], team.id)
    for name, value in changes.items():
        setattr(team, name, value)
    team.version += 1
    team.updated_at = utcnow()
    _emit(session, team)
    await session.flush()
    return team


def read_dict(team: Team) -> dict[str, Any]:
    return TeamRead.model_validate(team).model_dump(mode="json")


def recorded_team(principal: Principal, team_id: uuid.UUID | None) -> uuid.UUID | None:
    """The team a record sent with ``team_id`` is kept under: a team-scoped
    user's own when none is named (so a device that names none sends the
    same record again, not another one)."""
    return principal.team_id if team_id is None else team_id


async def team_of_record(
    session: AsyncSession,
    principal: Principal,
    team_id: uuid.UUID | None,
    loc: list[str | int],
) -> uuid.UUID | None:
    """The team a new record names: a team-scoped user's own (naming another
    is a 403), else the one given, which must be an active team of the
    caller's organisation (422)."""
    if principal.team_id is not None and team_id not in (None, principal.team_id):
        raise Forbidden("You may only record work for your own team.")
    team_id = recorded_team(principal, team_id)
    if team_id is None:
        return None
    team = await get_cached(session, Team, team_id)
    if team is None or team.organisation_id != principal.organisation_id:
        raise Invalid(
            "The team is not one of your organisation's.",
            errors=[FieldError(loc=loc, msg="unknown team", type="unknown_team")],
        )
    if not team.active:
        raise Invalid(
            "The team is inactive.",
            errors=[FieldError(loc=loc, msg="inactive team", type="inactive_team")],
        )
    return team_id
