"""Test databases and Redis: real PostgreSQL and Redis, never mocked."""

from __future__ import annotations

import os
import uuid
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from asyncpg.transaction import Transaction
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
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


async def empty_filled(connection: AsyncConnection, tables: list[str]) -> None:
    """Empty the tables that hold rows; ``tables`` in dependency order
    (``metadata.sorted_tables``: parents first).

    DELETE, children first, rather than TRUNCATE: a test leaves a few rows,
    and TRUNCATE makes new files for every table it reaches and their
    indexes, 20 to 40 ms a table on the 2-core machine; a DELETE of a few
    rows takes under a millisecond. The append-only audit log refuses a
    DELETE by trigger: the transaction runs as a replica
    (``session_replication_role``, the test server's superuser), which
    fires no ordinary trigger."""
    probe = " UNION ALL ".join(
        f"SELECT '{table}' WHERE EXISTS (SELECT FROM {table})" for table in tables
    )
    filled = set((await connection.execute(text(probe))).scalars())
    if not filled:
        return
    await connection.execute(text("SET LOCAL session_replication_role = replica"))
    for table in reversed(tables):
        if table in filled:
            await connection.execute(text(f"DELETE FROM {table}"))


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


def count_begins(monkeypatch: pytest.MonkeyPatch) -> list[Transaction]:
    """The transactions asyncpg begins from now on (each a BEGIN sent), for
    the tests of reads that must send none. The pool's ping of a connection
    that sat idle (``shared.db.PING_AFTER_IDLE_SECONDS``; SQLAlchemy's ping
    is a BEGIN, a ``;`` and a ROLLBACK) is not counted: it comes before the
    read, whenever a loaded machine leaves a second between two requests."""
    began: list[Transaction] = []
    pinging = [False]
    start = Transaction.start
    ping: Any = PGDialect_asyncpg.do_ping  # untyped in SQLAlchemy

    async def counted(self: Transaction) -> None:
        if not pinging[0]:
            began.append(self)
        await start(self)

    def pinged(self: PGDialect_asyncpg, dbapi_connection: Any) -> bool:
        pinging[0] = True
        try:
            return bool(ping(self, dbapi_connection))
        finally:
            pinging[0] = False

    monkeypatch.setattr(Transaction, "start", counted)
    monkeypatch.setattr(PGDialect_asyncpg, "do_ping", pinged)
    return began
