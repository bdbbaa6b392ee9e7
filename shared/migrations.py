"""Alembic per service, run from inside the app (embedded default) or from
the service's ``migrate`` command; each service keeps its own versions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import ensure_database


@dataclass(frozen=True)
class Migrations:
    """A service's migrations folder and what must follow an upgrade (e.g.
    loading reference data)."""

    directory: Path
    after_upgrade: Callable[[AsyncEngine], Awaitable[None]] | None = None

    def config(self, connection: Connection | None = None) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.directory))
        config.attributes["connection"] = connection
        return config

    async def upgrade_schema(self, engine: AsyncEngine) -> None:
        """The schema at head (a no-op when it is there); creates the database
        first when it does not exist."""
        await ensure_database(engine.url)
        await self._run(engine, lambda c: command.upgrade(self.config(c), "head"))

    async def upgrade(self, engine: AsyncEngine) -> None:
        """The schema at head, then ``after_upgrade``."""
        await self.upgrade_schema(engine)
        if self.after_upgrade is not None:
            await self.after_upgrade(engine)

    async def downgrade_to_base(self, engine: AsyncEngine) -> None:
        await self._run(engine, lambda c: command.downgrade(self.config(c), "base"))

    async def new_revision(self, engine: AsyncEngine, message: str) -> None:
        """Autogenerate a revision against a database at head (developers)."""
        await self.upgrade_schema(engine)
        await self._run(
            engine,
            lambda c: command.revision(
                self.config(c), message=message, autogenerate=True
            ),
        )

    @staticmethod
    async def _run(engine: AsyncEngine, step: Callable[[Connection], object]) -> None:
        async with engine.begin() as connection:
            await connection.run_sync(step)
