"""The beneficiary service's migrations; reference locations load after each
upgrade (safe to repeat)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.beneficiary.locations.service import load_reference_locations
from shared.migrations import Migrations


async def _load_reference(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session, session.begin():
        await load_reference_locations(session)


MIGRATIONS = Migrations(Path(__file__).parent, after_upgrade=_load_reference)
