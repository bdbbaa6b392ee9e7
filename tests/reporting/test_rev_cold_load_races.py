"""Review of issue 17's passes (wt-rev): a cold load stays exact while the
reporting database changes under it.

The seventh pass reads each categorical column's distinct values
(``FactStore._distinct``) on connections of their own, at the same time as
the COPY that sends the rows as hashes, then maps each hash to its value's
code; a hash whose value the distinct pass did not see fails the whole
load. Two ways the passes can disagree, each while ingestion goes on:

- a row changed by ingestion (an upsert gives it a later ``seq``; an
  erasure does too) after the COPY's snapshot and before the distinct
  pass's: the COPY sends its old value, the distinct pass no longer counts
  it among the rows up to the head;
- the table grown between the page counts of the distinct pass's two parts
  (each counted its own): part 0 reads pages [0, P0/2), part 1 pages
  [P1/2, end), and the pages between are read by neither.

The connections are those of the store's engine, as they are; only the
moment a statement runs is chosen (the engine is wrapped to run a change
from another connection at that moment), and the changes are the ones
ingestion makes (a later ``seq``; rows inserted, here rolled back).
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.engine.store import FactStore
from tests.callers import Caller
from tests.reporting.helpers import both_sexes_served

Hook = Callable[["_Connection", str, Any, Callable[[], Awaitable[Any]]], Awaitable[Any]]
_distinct_of: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "distinct_of", default=None
)


class _Connection:
    """A real connection whose ``execute`` goes through ``hook``."""

    def __init__(self, real: Any, hook: Hook, number: int | None) -> None:
        self._real, self._hook, self.number = real, hook, number

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def execution_options(self, **options: Any) -> _Connection:
        await self._real.execution_options(**options)
        return self

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        return await self._hook(
            self,
            str(statement),
            args[0] if args else kwargs.get("parameters"),
            lambda: self._real.execute(statement, *args, **kwargs),
        )


class _Engine:
    """The store's engine; connections opened by a distinct pass over
    ``service_fact`` are numbered in the order its parts open them."""

    def __init__(self, real: AsyncEngine, hook: Hook) -> None:
        self._real, self._hook = real, hook
        self._numbers = itertools.count()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[_Connection]:
        number = None
        if _distinct_of.get() == "service_fact":
            number = next(self._numbers)  # before any await: part 0 first
        async with self._real.connect() as conn:
            yield _Connection(conn, self._hook, number)


def _store(app: FastAPI, hook: Hook) -> FactStore:
    engine: AsyncEngine = app.state.runtime.engine
    store = FactStore(engine)
    store.engine = _Engine(engine, hook)  # type: ignore[assignment]
    distinct = store._distinct

    async def marked(frame: Any, *args: Any, **kwargs: Any) -> Any:
        _distinct_of.set(frame.table.name)
        return await distinct(frame, *args, **kwargs)

    store._distinct = marked  # type: ignore[method-assign]
    return store


async def test_rev_a_row_changed_during_a_cold_load_does_not_fail_it(
    alice: Caller, reporting_app: FastAPI, catch_up: Any
) -> None:
    """Ingestion changes a row (a later ``seq``) after the COPY took its
    snapshot and before the distinct pass took its own: the load must not
    find a value it does not know."""
    await both_sexes_served(alice, catch_up)
    engine: AsyncEngine = reporting_app.state.runtime.engine
    async with engine.begin() as conn:  # one value only one row holds
        await conn.execute(
            text(
                "UPDATE service_fact SET staff_id = 'rev-only-here'"
                " WHERE key = (SELECT min(key) FROM service_fact)"
            )
        )
    copied = asyncio.Event()
    changed = False

    async def hook(
        conn: _Connection, sql: str, params: Any, run: Callable[[], Awaitable[Any]]
    ) -> Any:
        nonlocal changed
        if "GROUPING SETS" in sql and "service_fact" in sql:
            with suppress(TimeoutError):
                await asyncio.wait_for(copied.wait(), 20)
            if not changed:
                changed = True
                async with engine.begin() as other:  # as an upsert by ingestion
                    await other.execute(
                        text(
                            "UPDATE service_fact SET seq = seq + 1000"
                            " WHERE staff_id = 'rev-only-here'"
                        )
                    )
        return await run()

    store = _store(reporting_app, hook)
    copy = store._copy

    async def copying(conn: Any, frame: Any, *args: Any) -> None:
        await copy(conn, frame, *args)
        if frame.table.name == "service_fact":
            copied.set()

    store._copy = copying  # type: ignore[method-assign,assignment]
    await store.refresh()  # main: ValueError: unknown value loading service_fact
    assert changed
    assert store.seq > 0
    assert {"female", "male"} <= set(store.frames["services"].vocab["sex"].values)


GROW = """
INSERT INTO service_fact
SELECT (jsonb_populate_record(NULL::service_fact, to_jsonb(s) || jsonb_build_object(
    'key', 10000000 + g, 'record_id', gen_random_uuid(), 'seq', 10000000))).*
FROM (SELECT * FROM service_fact LIMIT 1) AS s, generate_series(1, 3000) AS g
"""


async def test_rev_a_table_grown_during_a_cold_load_is_read_whole(
    alice: Caller, reporting_app: FastAPI, catch_up: Any
) -> None:
    """Ingestion extends ``service_fact`` (here by rows it then rolls back)
    between the distinct pass's page counts: every page up to the head's
    rows must still be read by one part."""
    await both_sexes_served(alice, catch_up)
    engine: AsyncEngine = reporting_app.state.runtime.engine
    grown = asyncio.Event()

    async def hook(
        conn: _Connection, sql: str, params: Any, run: Callable[[], Awaitable[Any]]
    ) -> Any:
        if "pg_relation_size" not in sql or (params or {}).get("name") != (
            "service_fact"
        ):
            return await run()
        if conn.number not in (None, 0):  # a later part counts after the growth
            await asyncio.wait_for(grown.wait(), 20)
            return await run()
        found = await run()
        async with engine.connect() as other:
            transaction = await other.begin()
            await other.execute(text(GROW))
            await transaction.rollback()  # the pages stay
        grown.set()
        return found

    store = _store(reporting_app, hook)
    await store.refresh()  # main: ValueError: unknown value loading service_fact
    assert grown.is_set()
    assert store.seq > 0
    assert {"female", "male"} <= set(store.frames["services"].vocab["sex"].values)
