"""The rules of the place tree: each level under a parent of the right level,
records pointed at sites only (``require_site()``), and the loading of Iraq's
governorates and programme sites from ``reference_data/``, safe to repeat after
each migration.
"""

from __future__ import annotations

import csv
import uuid
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.locations.gazetteer import (
    ColumnMapping,
    LevelColumns,
    load_units,
    units_of,
)
from services.beneficiary.locations.models import Location
from services.beneficiary.locations.schemas import LocationCreate
from shared.contracts.enums import LocationLevel, SiteType
from shared.db import get_cached
from shared.errors import Conflict, FieldError, Invalid, NotFound
from shared.i18n import ENGLISH
from shared.pagination import Page, ordered_page

PARENT_LEVELS = {
    LocationLevel.district: {LocationLevel.governorate},
    LocationLevel.subdistrict: {LocationLevel.district},
    LocationLevel.site: {
        LocationLevel.governorate,
        LocationLevel.district,
        LocationLevel.subdistrict,
    },
}


async def create_location(session: AsyncSession, data: LocationCreate) -> Location:
    """Add a location under a parent of the right level (a site may sit
    directly under a governorate when its district is not known)."""
    if data.parent_id is not None:
        parent = await session.get(Location, data.parent_id)
        allowed = PARENT_LEVELS.get(data.level, set())
        if parent is None or parent.level not in allowed:
            raise Invalid(
                "The parent does not exist or cannot contain this level.",
                errors=[
                    FieldError(
                        loc=["body", "parent_id"],
                        msg=f"a {data.level} cannot sit there",
                        type="parent_level",
                    )
                ],
            )
    same_place = select(col(Location.id)).where(
        col(Location.level) == data.level,
        col(Location.name) == data.name,
        col(Location.parent_id) == data.parent_id
        if data.parent_id
        else col(Location.parent_id).is_(None),
    )
    clash: Any = same_place
    if data.pcode:
        clash = (
            select(col(Location.id))
            .where(col(Location.pcode) == data.pcode)
            .union(same_place)
        )
    if (await session.execute(clash)).first() is not None:
        raise Conflict("A location with this P-code or name exists already.")
    location = Location(
        **data.model_dump(exclude_none=True), names={ENGLISH: data.name}
    )
    session.add(location)
    await session.flush()
    return location


async def get_location(session: AsyncSession, location_id: uuid.UUID) -> Location:
    location = await session.get(Location, location_id)
    if location is None:
        raise NotFound("No such location.")
    return location


async def list_locations(
    session: AsyncSession,
    *,
    level: LocationLevel | None,
    parent_id: uuid.UUID | None,
    pcode: str | None,
    cursor: str | None,
    limit: int,
) -> Page[Location]:
    """Places by level (governorate, district, site) then name."""
    statement = select(Location)
    if level is not None:
        statement = statement.where(col(Location.level) == level)
    if parent_id is not None:
        statement = statement.where(col(Location.parent_id) == parent_id)
    if pcode is not None:
        statement = statement.where(col(Location.pcode) == pcode)
    return await ordered_page(
        session,
        statement,
        keys=[(col(Location.level), LocationLevel), (col(Location.name), str)],
        cursor=cursor,
        limit=limit,
    )


async def require_site(
    session: AsyncSession, site_id: uuid.UUID | None, loc: list[str | int]
) -> None:
    """Records point at sites, not governorates."""
    if site_id is None:
        return
    location = await get_cached(session, Location, site_id)
    if location is None or location.level != LocationLevel.site:
        raise Invalid(
            "The site does not exist.",
            errors=[FieldError(loc=loc, msg="unknown site", type="unknown_site")],
        )


async def require_locations(
    session: AsyncSession, location_ids: list[uuid.UUID], loc: list[str | int]
) -> None:
    """Places a project or partnership names exist (at any level)."""
    if not location_ids:
        return
    found = await session.execute(
        select(col(Location.id)).where(col(Location.id).in_(location_ids))
    )
    if len(set(found.scalars())) != len(set(location_ids)):
        raise Invalid.field(
            loc, "unknown location", "unknown_location", "Some locations do not exist."
        )


def _reference_rows(name: str) -> list[dict[str, str]]:
    text = (
        resources.files("services.beneficiary.reference_data")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )
    return list(csv.DictReader(text.splitlines()))


IRAQ_ADMIN1 = ColumnMapping(
    levels={
        1: LevelColumns(
            pcode="ADM1_PCODE",
            names={"en": "ADM1_EN", "ar": "ADM1_AR", "ckb": "ADM1_CKB"},
        )
    }
)
"""The shipped Iraq governorates table: COD-AB's admin 1 columns plus
Kurdish names."""


async def load_reference_locations(session: AsyncSession) -> int:
    """Load Iraq's governorates (P-codes, names in en/ar/ckb) and programme
    sites; safe to re-run."""
    units = units_of(_reference_rows("iraq_admin1.csv"), "IQ", IRAQ_ADMIN1)
    added = (await load_units(session, units)).added
    aliases = {
        loc.pcode: loc
        for loc in (
            await session.execute(
                select(Location).where(col(Location.level) == LocationLevel.governorate)
            )
        ).scalars()
    }
    existing = {
        (loc.parent_id, loc.name)
        for loc in (
            await session.execute(
                select(Location).where(col(Location.level) == LocationLevel.site)
            )
        ).scalars()
    }
    for row in _reference_rows("iraq_sites.csv"):
        parent = aliases[row["governorate_pcode"]]
        if (parent.id, row["site"]) in existing:
            continue
        session.add(
            Location(
                name=row["site"],
                names={ENGLISH: row["site"]},
                level=LocationLevel.site,
                site_type=SiteType(row["site_type"]),
                parent_id=parent.id,
            )
        )
        existing.add((parent.id, row["site"]))
        added += 1
    await session.flush()
    return added
