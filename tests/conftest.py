"""Test infrastructure: real PostgreSQL and Redis, never mocked.

TEST_DATABASE_URL names a PostgreSQL server (its database is only used to
create fresh test databases); TEST_REDIS_URL a Redis database the suite may
flush. When either cannot be reached the suite fails: it never skips.

Every test carries the marker of its suite (the folder under tests/, e.g.
``-m reporting``), and the suites of whole processes carry ``ops``, ``browser``,
``deploy`` or ``image`` too, so ``make test-fast`` leaves them out without their
modules saying so (and ``make test`` leaves out ``image``, which needs the
image ``make image`` builds: ``make image-check`` runs it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

ADMIN_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
"""The index of this pytest-xdist worker (0 without xdist): each worker has
its own databases (a name suffix) and its own Redis database (the next
numbers after TEST_REDIS_URL's)."""


def _worker_redis(url: str) -> str:
    """TEST_REDIS_URL (which names its database: ``redis://host:port/9``)
    moved on by the worker's index."""
    server, _, database = url.rpartition("/")
    return f"{server}/{int(database) + WORKER}" if WORKER else url


REDIS_URL = _worker_redis(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9"))


TESTS = Path(__file__).parent
PROCESS_SUITES = {
    "ops": "ops",
    "smoke/test_dashboard.py": "browser",
    "deploy": "deploy",
    "image": "image",
}
"""Path under tests/ (folder or module) -> marker of a suite that runs whole
processes; `make test-fast` deselects these markers."""

DB_SUFFIX = os.environ.get("TEST_DB_SUFFIX", "") + (f"_w{WORKER}" if WORKER else "")
"""Appended to every test database's name, so two suites can run at once."""


def database_url(name: str) -> str:
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


async def recreate_database(name: str) -> str:
    """Drop and create a PostgreSQL database; fail loudly when there is no server."""
    name += DB_SUFFIX
    url = make_url(ADMIN_URL)
    try:
        connection = await asyncpg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            database=url.database,
            timeout=5,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is required at {ADMIN_URL}: {exc!r}", pytrace=False)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return database_url(name)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets everyone read what is created (a common default)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


async def truncate_filled(connection: AsyncConnection, tables: list[str]) -> None:
    """TRUNCATE ... CASCADE the tables that hold rows. Truncating an empty
    table costs as much as a full one (new files for it and its indexes: about
    0.1 s a test for a service's ~30 tables), and a test fills only a few."""
    probe = " UNION ALL ".join(
        f"SELECT '{table}' WHERE EXISTS (SELECT FROM {table})" for table in tables
    )
    filled = list((await connection.execute(text(probe))).scalars())
    if filled:
        await connection.execute(text(f"TRUNCATE {', '.join(filled)} CASCADE"))


async def insert_as_stored(
    connection: AsyncConnection, table: str, **values: Any
) -> None:
    """Insert a row into a table as the database has it, not as the models
    say (a migration test's database is at an older revision): its enums on
    PostgreSQL, its CHAR(32) uuids on SQLite."""
    reflected = await connection.run_sync(
        lambda c: sa.Table(table, sa.MetaData(), autoload_with=c)
    )
    if connection.dialect.name == "sqlite":
        values = {
            k: v.hex if isinstance(v, uuid.UUID) else v for k, v in values.items()
        }
    await connection.execute(sa.insert(reflected).values(**values))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        pytest.fail(f"Redis is required at {REDIS_URL}: {exc!r}", pytrace=False)
    except Exception as exc:
        pytest.fail(f"Redis is required at {REDIS_URL}: {exc!r}", pytrace=False)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its suite folder and, for suites of whole
    processes, with ``ops``, ``browser``, ``deploy`` or ``image`` (pyproject
    registers them)."""
    for item in items:
        if not item.path.is_relative_to(TESTS):
            continue
        relative = item.path.relative_to(TESTS)
        if len(relative.parts) > 1:
            item.add_marker(relative.parts[0])
        for where in (relative.parts[0], relative.as_posix()):
            if where in PROCESS_SUITES:
                item.add_marker(PROCESS_SUITES[where])
