"""The one way to fetch a record by id inside the caller's scope."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from shared.auth import Principal
from shared.db import get_cached
from shared.errors import NotFound

M = TypeVar("M")
BeyondSites = Callable[[AsyncSession, Principal, Any], Awaitable[bool]]
TeamOf = Callable[[AsyncSession, Any], Awaitable[uuid.UUID | None]]


async def get_in_scope(
    session: AsyncSession,
    principal: Principal,
    model: type[M],
    row_id: uuid.UUID,
    *,
    what: str,
    for_update: bool = False,
    cached: bool = False,
    site_scoped: bool = True,
    beyond_sites: BeyondSites | None = None,
    team_of: TeamOf | None = None,
) -> M:
    """A row of the caller's organisation at a site they may see (locked with
    ``for_update``); anything else is the same 404 as a row that never was.

    ``cached`` reads through ``get_cached`` (a row looked up again in the
    request costs nothing; not with ``for_update``). ``site_scoped=False`` is
    for a record of the whole organisation (a policy, a grant, a trainee),
    which a site-scoped token reaches too. ``beyond_sites`` is a service's own
    way past the site scope for a row of the caller's organisation (the
    beneficiary service's break-the-glass grants); nothing reaches past the
    organisation.

    A team-scoped caller sees a site-scoped row of its own team only: the
    row's ``team_id``, or what ``team_of`` finds for it (the team of the
    person it is about); a row with neither is hidden from every team-scoped
    token."""
    row: Any
    if cached and not for_update:
        row = await get_cached(session, model, _key(model, principal, row_id))
        if row is not None and row.organisation_id != principal.organisation_id:
            row = None
    else:
        statement = _by_id(model, for_update)
        params = {"row_id": row_id, "org": principal.organisation_id}
        row = (await session.execute(statement, params)).scalar_one_or_none()
    if row is None or not await within_scope(
        session,
        principal,
        row,
        site_scoped=site_scoped,
        beyond_sites=beyond_sites,
        team_of=team_of,
    ):
        raise NotFound(f"No such {what}.")
    return row  # type: ignore[no-any-return]


async def within_scope(
    session: AsyncSession,
    principal: Principal,
    row: Any,
    *,
    site_scoped: bool = True,
    beyond_sites: BeyondSites | None = None,
    team_of: TeamOf | None = None,
) -> bool:
    """``get_in_scope``'s check of a row of the caller's organisation loaded
    by other means (a statement that reads more with it): its site, or
    ``beyond_sites``, and a team-scoped caller's team."""
    if not (
        not site_scoped
        or principal.can_see_site(getattr(row, "site_id", None))
        or (beyond_sites is not None and await beyond_sites(session, principal, row))
    ):
        return False
    if site_scoped and principal.team_id is not None:
        if hasattr(row, "team_id"):
            team = row.team_id
        else:
            team = await team_of(session, row) if team_of is not None else None
        if team != principal.team_id:
            return False
    return True


_BY_ID: dict[tuple[type[Any], bool], Any] = {}


def _by_id(model: type[Any], for_update: bool) -> Any:
    """The row by id in an organisation, built once per table and lock."""
    statement = _BY_ID.get((model, for_update))
    if statement is None:
        statement = select(model).where(
            col(model.id) == bindparam("row_id"),
            col(model.organisation_id) == bindparam("org"),
        )
        if for_update:
            statement = statement.with_for_update()
        _BY_ID[(model, for_update)] = statement
    return statement


_PER_ORGANISATION: dict[type[Any], bool] = {}


def _key(model: type[Any], principal: Principal, row_id: uuid.UUID) -> Any:
    """The primary key of ``row_id``: with the caller's organisation where
    ids are unique per organisation (decision 0006). The table's key is read
    once: inspecting it cost a bulk writer more than the rest of a look-up."""
    per_organisation = _PER_ORGANISATION.get(model)
    if per_organisation is None:
        columns = [c.name for c in inspect(model).primary_key]
        per_organisation = _PER_ORGANISATION[model] = columns == [
            "organisation_id",
            "id",
        ]
    if per_organisation:
        return (principal.organisation_id, row_id)
    return row_id
