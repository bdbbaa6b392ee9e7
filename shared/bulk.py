"""Rows written many at a time without ORM instances.

Building a SQLModel row costs more than checking it: SQLAlchemy gives each
instance its state and the unit of work sorts them again at flush. A batch
(a device's sync, an import) instead collects plain column dicts per table and
writes each table with one statement: COPY on PostgreSQL (asyncpg), an
executemany INSERT elsewhere. Values pass through the columns' own types first
(enums by name, JSON, UTC datetimes), so a row reads back as the ORM wrote it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC
from operator import itemgetter
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Boolean, Enum, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError, InterfaceError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.base import instance_state
from sqlalchemy.types import TypeEngine

from shared.db import UTCDateTime

ROWS_KEY = "bulk_rows"


class Rows:
    """Column dicts per table, kept in the order tables were first added
    (parents before children, as foreign keys need), and ``answers``: what
    the records collected here cannot change (a site exists, a person is in
    scope and consenting, how a service was delivered, an id as text), found
    once for all of them (``answered``)."""

    def __init__(self) -> None:
        self.tables: dict[Table, list[dict[str, Any]]] = {}
        self.answers: dict[Any, Any] = {}

    def add(self, table: Table, row: dict[str, Any]) -> None:
        self.tables.setdefault(table, []).append(row)

    def mark(self) -> dict[Table, int]:
        return {table: len(rows) for table, rows in self.tables.items()}

    def undo(self, mark: dict[Table, int]) -> None:
        """Drop what was added after ``mark`` (a record refused half-way)."""
        for table, rows in self.tables.items():
            del rows[mark.get(table, 0) :]

    def clear(self) -> None:
        self.tables.clear()

    async def write(self, session: AsyncSession) -> None:
        """Write every table's rows in the session's transaction, then forget
        them. The ORM's pending rows are flushed first (they may be parents)."""
        await session.flush()
        tables, self.tables = self.tables, {}
        connection = await session.connection()
        for table, rows in tables.items():
            if not rows:
                continue
            if connection.dialect.name == "postgresql":
                await _copy(connection, table, rows)
            else:
                await connection.execute(insert(table), rows)


async def _copy(connection: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    """COPY ``rows`` into ``table`` through asyncpg, each value bound by its
    column's type as an INSERT would bind it."""
    dialect = connection.dialect
    columns = [c for c in table.columns if c.name in rows[0]]
    values = [  # column by column: one loop per column, not a generator per row
        _bound(column.type, dialect, list(map(itemgetter(column.name), rows)))
        for column in columns
    ]
    records = list(zip(*values, strict=True))
    raw = await connection.get_raw_connection()
    try:
        await raw.driver_connection.copy_records_to_table(
            table.name, records=records, columns=[c.name for c in columns]
        )
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(f"COPY {table.name}", None, exc) from exc
    except (asyncpg.InterfaceError, asyncpg.ConnectionDoesNotExistError) as exc:
        raise InterfaceError(f"COPY {table.name}", None, exc) from exc  # a 503


_BOOLEANS = {bool, type(None)}


def _bound(kind: TypeEngine[Any], dialect: Dialect, values: list[Any]) -> list[Any]:
    """A column's ``values`` as its type's bind processor gives them. Where
    the result is known without a call per value, there is none: a type
    that binds nothing (a UUID, a string, a date on asyncpg), booleans
    already bool, timestamps already UTC, enum members by their names."""
    process = kind._cached_bind_processor(dialect)
    if process is None:
        return values
    impl = kind.dialect_impl(dialect)
    if isinstance(impl, Enum):
        names = impl._valid_lookup  # each member (and None): what it binds to
        if all(process(member) == name for member, name in names.items()):
            try:
                return [names[value] for value in values]
            except KeyError:  # a string, bound as it is, or refused
                pass
    elif isinstance(impl, Boolean) and set(map(type, values)) <= _BOOLEANS:
        return values
    elif (
        isinstance(kind, UTCDateTime)
        and kind.impl_instance._cached_bind_processor(dialect) is None
    ):  # astimezone(UTC) gives a UTC timestamp back as it is
        return [v if v is None or v.tzinfo is UTC else process(v) for v in values]
    return [process(value) for value in values]


M = TypeVar("M")


def unsaved(model: type[M], columns: dict[str, Any]) -> M:
    """An instance of ``model`` holding a bulk-written row's columns, to read
    (say, a consent in force for the rest of the batch), built without the
    cost of the model's constructor or of the ORM's state: its attributes
    read from its dict (every column must be given), and a session refuses
    it (``UnmappedInstanceError``), as it must never be added to one."""
    instance: M = object.__new__(model)
    instance.__dict__.update(columns)
    object.__setattr__(instance, "__pydantic_fields_set__", set(columns))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


def attach(session: AsyncSession, instance: Any) -> None:
    """Make ``instance`` (every column set, its row written by ``Rows.write``;
    a table without relationships) the session's persistent row, as if it
    had been read back: later reads in the session find it without a
    query, and an edit of it is flushed as an UPDATE. Call only once the
    row is written.

    Done as the ORM's loader places a row it read (its identity key, its
    state committed, the identity map, the session's id), not by
    ``make_transient_to_detached`` and ``session.add``: their checks,
    events and cascade walk cost about three times as much per person
    in a batch, and none of them applies to a row just written (no
    listeners, no relationships, no other instance of a new key: the
    identity map refuses one)."""
    state = instance_state(instance)
    if state.key is not None or state.session_id is not None:
        return  # not transient: written and attached before
    sync = session.sync_session
    state.key = state.mapper._identity_key_from_state(state)
    state._commit_all(state.dict)
    sync.identity_map.add(state)
    state.session_id = sync.hash_key


def collecting(session: AsyncSession) -> Rows | None:
    """The batch's rows while a bulk writer collects them, else None (write
    ORM rows as usual)."""
    rows = session.info.get(ROWS_KEY)
    return rows if isinstance(rows, Rows) else None


T = TypeVar("T")


async def answered(
    answers: dict[Any, Any] | None, key: Any, find: Callable[[], Awaitable[T]]
) -> T:
    """``find()``'s answer, found once per ``answers`` (a batch's
    ``Rows.answers``; None: no batch, found each time). Only an answer is
    kept: a check that refuses raises, and refuses again for the next record."""
    if answers is not None and key in answers:
        found: T = answers[key]
        return found
    found = await find()
    if answers is not None:
        answers[key] = found
    return found


class collect:  # lower case: used as ``with collect(...)``, as it was a function
    """Within this block, writers that support it add plain rows to ``rows``
    instead of ORM instances to the session; a record refused half-way
    leaves none behind. A class, not a ``contextmanager`` generator: a
    batch enters it once per record, and the generator's machinery cost
    three times the work."""

    __slots__ = ("_mark", "_previous", "_rows", "_session")

    def __init__(self, session: AsyncSession, rows: Rows) -> None:
        self._session, self._rows = session, rows

    def __enter__(self) -> Rows:
        info = self._session.info
        self._previous = info.get(ROWS_KEY)
        info[ROWS_KEY] = self._rows
        self._mark = self._rows.mark()
        return self._rows

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self._rows.undo(self._mark)
        self._session.info[ROWS_KEY] = self._previous
