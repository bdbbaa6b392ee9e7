"""Run Alembic from inside the app (embedded default) or the CLI."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.beneficiary.locations.service import load_reference_locations
from shared.db import ensure_database

MIGRATIONS_DIR = Path(__file__).parent


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


async def upgrade_schema(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema (a no-op when it is there)."""

    def upgrade(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), "head")

    await ensure_database(engine.url)
    async with engine.begin() as connection:
        await connection.run_sync(upgrade)


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """The schema at head and the reference locations loaded."""
    await upgrade_schema(engine)
    async with AsyncSession(engine) as session, session.begin():
        await load_reference_locations(session)
