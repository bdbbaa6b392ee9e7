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

    async def upgrade_schema(self, engine: AsyncEngine, revision: str = "head") -> None:
        """The schema at head, or at ``revision`` (a no-op when it is there);
        creates the database first when it does not exist."""
        await ensure_database(engine.url)
        await self._run(engine, lambda c: command.upgrade(self.config(c), revision))

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
        """One transaction per step. On SQLite, foreign keys are off meanwhile
        (as SQLite's own procedure for altering a table says: a batch
        migration copies a parent table, and dropping the old copy would
        break its children) and checked before the commit."""
        async with engine.connect() as connection:
            sqlite = engine.dialect.name == "sqlite"
            if sqlite:
                await connection.run_sync(_sqlite_foreign_keys, "OFF")
            try:
                async with connection.begin():
                    await connection.run_sync(step)
                    if sqlite:
                        await connection.run_sync(_no_broken_references)
            finally:
                if sqlite:
                    await connection.run_sync(_sqlite_foreign_keys, "ON")


def _sqlite_foreign_keys(connection: Connection, state: str) -> None:
    """Outside any transaction (SQLite ignores the pragma inside one)."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={state}")
    finally:
        cursor.close()


def _no_broken_references(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"The migration broke references: {broken[:5]}")
