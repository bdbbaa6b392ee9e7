"""Database plumbing: one async engine per service, a session per request."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import Enum
from operator import attrgetter
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
from asyncpg.pgproto import pgproto
from fastapi import Depends, Request
from pydantic import AfterValidator
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    ForeignKeyConstraint,
    MetaData,
    PrimaryKeyConstraint,
    and_,
    bindparam,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    true,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    create_async_engine,
)
from sqlalchemy.orm import (
    Session,
    SessionTransaction,
    aliased,
    make_transient_to_detached,
    registry,
)
from sqlalchemy.orm.attributes import flag_dirty, instance_state
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.files import PRIVATE_DIR, PRIVATE_FILE
from shared.tracing import statement_span

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_registry() -> registry:
    """A registry of its own per service, so no service's tables leak into
    another's metadata or migrations."""
    return registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


def organisation_key() -> PrimaryKeyConstraint:
    """The key of a table whose ids clients may choose: an id is unique
    within its organisation only, so one taken elsewhere is simply free here
    and reveals nothing (docs/decisions/0006-ids-per-organisation.md)."""
    return PrimaryKeyConstraint("organisation_id", "id")


def same_organisation(column: str, table: str) -> ForeignKeyConstraint:
    """``column`` names a row of ``table`` of this row's own organisation:
    the database itself refuses a child under another organisation's parent."""
    return ForeignKeyConstraint(
        [column, "organisation_id"], [f"{table}.id", f"{table}.organisation_id"]
    )


def under(column: Any, parent: Any) -> ColumnElement[bool]:
    """Rows whose ``column`` (e.g. ``Case.beneficiary_id``) names ``parent``:
    an id alone may name a row in each organisation, so the parent's
    organisation is always part of the match."""
    return and_(
        column.class_.organisation_id == parent.organisation_id,
        column == parent.id,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


DriverUUID: Callable[[bytes], uuid.UUID] = pgproto.UUID
"""asyncpg's ``uuid.UUID`` subclass, in C: what it returns for a uuid column,
and what it writes without a call to the standard class's ``bytes``."""
_VERSION_4_KEEP = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_4_BITS = (0x4000 << 64) | (0x8000 << 48)


def new_id() -> uuid.UUID:
    """A new random id (version 4: ``uuid.uuid4()``'s bits), in asyncpg's
    own ``UUID`` class, the one every id read from PostgreSQL already is: a
    ``uuid.UUID`` equal to, and hashed as, the standard one, whose hash,
    text and bytes are C, so an id made here costs less to make, to look up
    and to COPY (decision record 0019)."""
    random = int.from_bytes(os.urandom(16))
    return DriverUUID((random & _VERSION_4_KEEP | _VERSION_4_BITS).to_bytes(16))


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


_JSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def as_driver_id(value: uuid.UUID) -> uuid.UUID:
    """``value`` in asyncpg's ``UUID`` class (``new_id``'s): the same id,
    for one a batch hashes, compares and writes many times."""
    return value if type(value) is DriverUUID else DriverUUID(value.bytes)


DriverId = Annotated[uuid.UUID, AfterValidator(as_driver_id)]
"""A UUID field whose value is kept in asyncpg's class (``as_driver_id``):
the same validation, errors and schema as ``uuid.UUID``."""


def json_default(value: Any) -> str:
    """orjson's ``default``: a ``uuid.UUID`` subclass (asyncpg's) as text,
    as orjson writes the standard class; anything else refused as before."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError


def dump_json(value: Any) -> str:
    """The text of a JSON column, by orjson: a tenth of ``json.dumps``'s
    time, and the same value on reading back (no spaces, and non-ASCII text
    as UTF-8 rather than ``\\u`` escapes: the columns are ``json`` and no query
    reads their text). What orjson refuses (a key that is not a string, an
    integer past 64 bits, a lone surrogate, a datetime) goes to
    ``json.dumps``, which writes or refuses it as before. Unlike
    ``json.dumps``, orjson writes a UUID and an Enum by value, and NaN and
    infinities as null (PostgreSQL refused the NaN ``json.dumps`` wrote).
    asyncpg's UUIDs (read from PostgreSQL, or made by ``new_id``) are
    written as orjson writes the standard ones."""
    try:
        return orjson.dumps(value, default=json_default, option=_JSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the engine; SQLite gets WAL, foreign keys and one writer at a
    time, in a file only its owner may read (created here if absent).

    PostgreSQL: up to 20 connections, all kept once opened. Overflow
    connections are closed when returned, so a busy process would reconnect,
    and prepare its statements again, on nearly every request. A connection
    is pinged before use only when it sat idle (``PING_AFTER_IDLE_SECONDS``):
    one in constant use was proven alive a moment ago, and a ping per
    request is a round trip and about a tenth of a millisecond of CPU."""
    if url.startswith("sqlite"):
        _create_private_sqlite_file(make_url(url).database)
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": 30}, json_serializer=dump_json
        )
        _configure_sqlite(engine)
        return engine
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=20,
        max_overflow=0,
        pool_timeout=10,
        json_serializer=dump_json,
    )
    _ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` for reads of one statement. On PostgreSQL they run with
    no BEGIN and ROLLBACK around them: two round trips fewer, and a single
    statement sees one snapshot anyway. SQLite keeps its transactions
    (``_configure_sqlite`` begins them itself; its reads are local calls)."""
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled connection idle this long is pinged before it is handed out
(a restarted or failed-over PostgreSQL closed it meanwhile: it is replaced,
and the request never sees it)."""


def _ping_when_idle(engine: AsyncEngine, idle: float) -> None:
    """``pool_pre_ping`` for idle connections only. A dead connection found
    by the ping is replaced by the pool (up to three tries) before use."""
    sync = engine.sync_engine

    @event.listens_for(sync, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle:
            return  # just opened, or in use a moment ago
        try:
            sync.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError() from exc


def _create_private_sqlite_file(database: str | None) -> None:
    """Create the SQLite file (mode 0600, a new folder 0700) before SQLite
    does: SQLite gives its -wal, -shm and journal files the database's mode.
    A file an older version made readable by others is tightened (an existing
    folder is left as it is: it may be any folder the URL names)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(PRIVATE_FILE)


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Every SQLite transaction takes the write lock at BEGIN (IMMEDIATE), so
    transactions serialise and outbox positions follow commit order."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


REQUEST_SESSION = "db_session"
"""Where ``get_session`` leaves the request's session for ``CloseSession``."""


async def get_session(request: Request) -> AsyncSession:
    """A session per request; the handler owns the transaction with begin().
    ``CloseSession`` closes it once the app has answered, whatever happened:
    a plain dependency, not one that yields, whose two context managers and
    cancel scope per request cost more than the rest of the session's
    handling (``bench/RESULTS.md``, sixth pass)."""
    session = AsyncSession(
        request.app.state.engine, expire_on_commit=False, autoflush=False
    )
    request.scope.setdefault("state", {})[REQUEST_SESSION] = session
    return session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


class CloseSession:
    """Pure ASGI middleware: the request's session (``get_session``) is
    closed after the app answered or failed, which rolls back and releases
    a connection it still holds. One that holds none (a write's, committed)
    is only dropped: closing it would release nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            state = scope.get("state")
            session = state.pop(REQUEST_SESSION, None) if state else None
            if session is not None and session.in_transaction():
                await session.close()


M = TypeVar("M")
_ABSENT = object()


def _identity(row: Any) -> Any:
    """A row's key as ``get_cached`` takes it: the value of a one-column
    primary key, the tuple of a composite one (in the key's column order)."""
    identity = inspect(row).identity
    return identity[0] if len(identity) == 1 else identity


async def get_cached(session: AsyncSession, model: type[M], key: Any) -> M | None:
    """``session.get`` that keeps what it loads for the rest of the session;
    ``key`` is a tuple for a composite primary key.

    The identity map holds rows weakly, so a row looked up once per record of a
    batch (the caller's organisation, a site) would be fetched again each time;
    pinning it in ``session.info`` makes the repeats free."""
    pinned: dict[tuple[type[Any], Any], Any] = session.info.setdefault("pinned", {})
    row = pinned.get((model, key))
    if row is _ABSENT:
        return None
    # the row's own state, not ``inspect``: its registry walk cost more than
    # the rest of a look-up a bulk writer makes several times a record
    if row is not None and instance_state(row).persistent:
        return row  # type: ignore[no-any-return]
    row = await session.get(model, key)
    if row is not None:
        pinned[(model, key)] = row
    return row


def sorted_ids(ids: Iterable[Any]) -> list[Any]:
    """``ids`` without repeats, in order. UUIDs are sorted by their number,
    the order ``UUID.__lt__`` gives, without calling it (a Python method)
    for each comparison: a batch's ids are sorted several times, and that
    was about 3 % of a sync batch's CPU."""
    unique = set(ids)
    if unique and isinstance(next(iter(unique)), uuid.UUID):
        return sorted(unique, key=_number)
    return sorted(unique)


_number = attrgetter("int")


def by_ids_param(
    dialect_name: str, statement: Any, column: Any, *, many: bool = False
) -> Any:
    """``statement`` (a select of one model) limited to the rows whose
    ``column`` is among the parameter ``ids`` (their ``sorted_ids``, given
    at each execution): one row per id (its key), or with ``many`` all of
    them. A statement built once: building, keying and loading through a
    new one each time cost a single write a fifth of its Python
    (``bench/RESULTS.md``, seventh pass), and a sync batch 3 µs a record.

    On PostgreSQL each id is its own index look-up (a LATERAL join over the
    sorted array, ``LIMIT 1`` or ``OFFSET 0`` each, so that it stays a
    loop), whatever the planner believes of the table's size. ``column =
    ANY(...)`` beside the organisation's equality let a plan made while the
    table was small (a new database's first import; a prepared statement
    keeps its plan) read every row of the organisation and test each
    against the array, for each batch. A locking ``statement`` locks the
    rows in id order."""
    if dialect_name != "postgresql":
        return statement.where(column.in_(bindparam("ids", expanding=True)))
    return _each_id(statement, column, bindparam("ids", type_=ARRAY(column.type)), many)


def _each_id(statement: Any, column: Any, ids: Any, many: bool) -> Any:
    """``by_ids_param``'s LATERAL join of ``statement`` over the array ``ids``."""
    keys = func.unnest(ids).table_valued("id").render_derived(name="wanted")
    found = statement.where(column == keys.c.id)
    found = (found.offset(0) if many else found.limit(1)).lateral("found")
    model = statement.column_descriptions[0]["entity"]
    return select(aliased(model, found)).select_from(keys).join(found, true())


async def prefetch(
    session: AsyncSession, model: type[Any], keys: Iterable[Any], *, lock: bool = False
) -> None:
    """Load many rows by primary key in one query for ``get_cached``, and
    remember which keys do not exist (so a batch's existence checks are free).
    With ``lock`` the rows found are locked ``FOR UPDATE`` in id order (so two
    batches never deadlock) by the same query; the keys must then be one
    organisation's."""
    keys = set(keys)
    if not keys:
        return
    columns = inspect(model).primary_key
    firsts = {key[0] for key in keys} if len(columns) == 2 else set()
    if len(firsts) == 1:  # one organisation's ids: a look-up per id
        rows = await session.execute(
            _prefetch_statement(session.get_bind().dialect.name, model, lock),
            {"first": firsts.pop(), "ids": sorted_ids(k[1] for k in keys)},
        )
    elif lock:
        raise ValueError("a locking prefetch takes one organisation's keys")
    else:
        primary_key = columns[0] if len(columns) == 1 else tuple_(*columns)
        rows = await session.execute(select(model).where(primary_key.in_(keys)))
    pinned = session.info.setdefault("pinned", {})
    for row in rows.scalars():
        pinned[(model, _identity(row))] = row
        keys.discard(_identity(row))
    for key in keys:
        pinned[(model, key)] = _ABSENT


def _prefetch_statement(dialect_name: str, model: type[Any], lock: bool) -> Any:
    """``prefetch``'s look-up of one organisation's ids (``by_ids_param``,
    the organisation as ``first``), built once per dialect, model and
    ``lock``: a batch prefetches on each request, and building it cost more
    than the ids' look-up."""
    statement = _PREFETCH.get((dialect_name, model, lock))
    if statement is None:
        first, second = inspect(model).primary_key
        found = select(model).where(first == bindparam("first"))
        statement = _PREFETCH[(dialect_name, model, lock)] = by_ids_param(
            dialect_name, found.with_for_update() if lock else found, second
        )
    return statement


_PREFETCH: dict[tuple[str, type[Any], bool], Any] = {}


async def get_many_cached(
    session: AsyncSession, model: type[M], keys: Iterable[Any]
) -> list[M]:
    """``get_cached`` for many keys: those not remembered yet are loaded in
    one query; keys with no row are left out."""
    keys = list(keys)
    pinned: dict[tuple[type[Any], Any], Any] = session.info.setdefault("pinned", {})
    await prefetch(session, model, [k for k in keys if (model, k) not in pinned])
    rows = [await get_cached(session, model, key) for key in keys]
    return [row for row in rows if row is not None]


def forget(session: AsyncSession, model: type[Any], key: Any) -> None:
    """Drop what ``get_cached`` remembers of a key (say, that it had no row,
    after the row was written without the ORM), so it is read again."""
    session.info.setdefault("pinned", {}).pop((model, key), None)


_IMMUTABLE = (type(None), bool, int, float, str, bytes, tuple, frozenset, Enum)


def _plain_defaults(model: type[Any]) -> tuple[dict[str, Any], list[Any]]:
    """A model's immutable field defaults (kept per model), and the fields
    whose default must be made anew for each row (a factory, a mutable)."""
    known: tuple[dict[str, Any], list[Any]] | None = model.__dict__.get(
        "_plain_defaults"
    )
    if known is None:
        model.__mapper__._check_configure()
        plain: dict[str, Any] = {}
        fresh: list[Any] = []
        for name, info in model.model_fields.items():
            if info.is_required():
                continue
            if info.default_factory is None and isinstance(info.default, _IMMUTABLE):
                plain[name] = info.default
            else:
                fresh.append((name, info))
        known = (plain, fresh)
        model._plain_defaults = known
    return known


def new_row(model: type[M], **columns: Any) -> M:
    """A new row of a SQLModel table to ``session.add``: what the model's
    constructor makes (every field, defaults for those not given), without
    its per-field pydantic and SQLAlchemy machinery, which costs more than
    the INSERT's own Python. No validation runs (none does for a table
    model either)."""
    plain, fresh = _plain_defaults(model)
    values = {**plain, **columns}
    for name, info in fresh:
        if name not in columns:
            values[name] = info.get_default(call_default_factory=True)
    instance: M = model.__mapper__.class_manager.new_instance()  # type: ignore[attr-defined]
    instance.__dict__.update(values)
    object.__setattr__(instance, "__pydantic_fields_set__", set(columns))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


APPENDED = "appended_rows"
"""``session.info`` key: plain rows staged by ``append_row``, per table."""


def append_row(session: AsyncSession, model: type[Any], **columns: Any) -> None:
    """Stage a row that is only ever inserted and that no other row points to
    (an audit row, an outbox event, an Idempotency-Key record) in the
    session's transaction, as a plain row instead of an ORM instance.

    Such rows are written by one INSERT at the session's next flush or at its
    commit, whichever comes first (all of a small write's in one statement on
    PostgreSQL): the same transaction and the same visibility as
    ``session.add`` with autoflush off, without the unit of work's cost per
    instance and per flush. Inside a savepoint the row is added to the
    session as usual, so rolling the savepoint back still drops it."""
    if session.in_nested_transaction():
        session.add(new_row(model, **columns))
        return
    plain, fresh = _plain_defaults(model)
    values = {**plain, **columns}
    for name, info in fresh:
        if name not in columns:
            values[name] = info.get_default(call_default_factory=True)
    staged: dict[Any, list[dict[str, Any]]] = session.info.setdefault(APPENDED, {})
    staged.setdefault(model.__table__, []).append(values)


ADDED = "added_rows"
"""``session.info`` key: the ORM rows ``add_appended`` put in the session,
written with the rows ``append_row`` staged."""


def _write_appended(session: Session) -> None:
    """Write what ``append_row`` staged and the rows ``add_appended`` added
    (their columns as they are now): one row per table (a single write's
    record, event, audit row and key) as one statement of INSERTs joined by
    WITH on PostgreSQL (one round trip); otherwise one executemany per
    table. The added rows are then as if loaded: no longer dirty, so the
    unit of work has nothing to do for them."""
    if session.in_nested_transaction():
        return  # written by the outer transaction's flush or commit
    staged: dict[Any, list[dict[str, Any]]] = session.info.pop(APPENDED, None) or {}
    added: list[Any] = session.info.pop(ADDED, None) or []
    if added:
        tables: dict[Any, list[dict[str, Any]]] = {}
        for row in added:
            table = type(row).__table__
            tables.setdefault(table, []).append(
                {c.key: row.__dict__[c.key] for c in table.columns}
            )
        for table, rows in staged.items():
            tables.setdefault(table, []).extend(rows)
        staged = tables
    if not staged:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql" and all(
        len(rows) == 1 for rows in staged.values()
    ):
        shape = tuple((table, tuple(rows[0])) for table, rows in staged.items())
        params = {
            f"{name}_{number}": value
            for number, rows in enumerate(staged.values())
            for name, value in rows[0].items()
        }
        connection.execute(_one_insert(shape), params)
    else:
        for table, rows in staged.items():
            connection.execute(_plain_insert(table), rows)
    for row in added:  # written as it stands: nothing left to flush for it
        # what a flush does for a row it wrote (make_transient, then
        # make_transient_to_detached and add: 0.14 M instructions more a write)
        state = instance_state(row)
        state._commit_all(state.dict, session.identity_map)


async def add_appended(session: AsyncSession, row: Any) -> None:
    """``session.add`` for a new ``row`` (made by ``new_row``), written in one
    statement with the rows ``append_row`` staged, at the session's next
    flush or at its commit (a service record with its event, audit row and
    Idempotency-Key record: one round trip, no unit of work). Until then it
    is what an added row is with autoflush off: not in the database yet, so
    a query sees it after a flush (which writes it even when nothing else
    changed). Unlike an added row it is in the session as if loaded:
    ``get_cached`` finds it, and a change to it is written with it (or,
    once written, as an UPDATE). Rows the session holds are flushed first
    (one may be this row's parent). Inside a savepoint, or off PostgreSQL,
    it is added and flushed at once (a savepoint rolled back must drop it)."""
    if (
        session.in_nested_transaction()
        or session.get_bind().dialect.name != "postgresql"
    ):
        session.add(row)
        await session.flush()
        return
    if session.new or session.dirty or session.deleted:
        await session.flush()
    make_transient_to_detached(row)
    session.add(row)
    flag_dirty(row)  # a flush, even of nothing else, writes it
    session.info.setdefault(ADDED, []).append(row)


_INSERTS: dict[Any, Any] = {}


def _plain_insert(table: Any) -> Any:
    """``insert(table)``, built once (a statement built anew is keyed anew)."""
    statement = _INSERTS.get(table)
    if statement is None:
        statement = _INSERTS[table] = insert(table)
    return statement


def _one_insert(shape: tuple[tuple[Any, tuple[str, ...]], ...]) -> Any:
    """One row into each table of ``shape`` (tables with their columns), as
    ``INSERT ... `` with the other tables' INSERTs in its WITH; parameters
    are named ``<column>_<table's place>``. Built once per shape."""
    statement = _INSERTS.get(shape)
    if statement is None:
        first, *others = [
            insert(table).values(
                {name: bindparam(f"{name}_{number}") for name in columns}
            )
            for number, (table, columns) in enumerate(shape)
        ]
        statement = first
        for number, other in enumerate(others):
            statement = statement.add_cte(other.cte(f"appended_{number}"))
        _INSERTS[shape] = statement
    return statement


@event.listens_for(Session, "before_flush")
def _appended_before_flush(session: Session, context: Any, instances: Any) -> None:
    _write_appended(session)


@event.listens_for(Session, "before_commit")
def _appended_before_commit(session: Session) -> None:
    _write_appended(session)


@event.listens_for(Session, "after_transaction_end")
def _appended_dropped(session: Session, transaction: SessionTransaction) -> None:
    """A transaction rolled back (or a session closed) drops what it staged."""
    if transaction.parent is None:
        session.info.pop(APPENDED, None)
        session.info.pop(ADDED, None)


_RAW: dict[int, tuple[Any, str, tuple[str, ...], dict[str, Any]]] = {}


async def fetch_rows(
    session: AsyncSession, statement: Any, params: dict[str, Any]
) -> list[Any]:
    """The rows of ``statement`` (a SELECT built once) as asyncpg records
    (by column name or place), run on PostgreSQL by asyncpg itself on the
    session's connection, in its transaction (begun here if no statement
    began it yet, as SQLAlchemy's cursor would). Through the session a
    read of a few rows cost about 400 000 instructions, a sixth of a small
    write's handler; this costs about 110 000 (bench/RESULTS.md, seventh
    pass).

    The statement is compiled once; its span (tracing on) and its errors
    are those SQLAlchemy would give: the driver's error translated to
    SQLAlchemy's, and a lost connection invalidated. Elsewhere (SQLite)
    the session runs it, and its rows are read by place as well."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return list((await session.execute(statement, params)).all())
    sync: Any = connection.sync_connection
    pooled = sync.connection
    adapted = pooled.dbapi_connection  # SQLAlchemy's adapter of asyncpg's
    known = _RAW.get(id(statement))
    if known is None or known[0] is not statement:
        compiled = statement.compile(dialect=sync.dialect)
        fixed = {name: bind.effective_value for name, bind in compiled.binds.items()}
        known = (statement, compiled.string, tuple(compiled.positiontup or ()), fixed)
        _RAW[id(statement)] = known
    _, sql, names, fixed = known
    args = [params[name] if name in params else fixed[name] for name in names]
    driver = pooled.driver_connection
    try:
        if adapted._transaction is None and not adapted.autocommit:
            await adapted._start_transaction()  # BEGIN, as its cursor would
        with statement_span(sync.engine, sql):
            return list(await driver.fetch(sql, *args))
    except Exception as error:
        raise await _as_sqlalchemy_error(connection, sql, args, error) from error


async def _as_sqlalchemy_error(
    connection: AsyncConnection, sql: str, args: list[Any], error: Exception
) -> Exception:
    """What SQLAlchemy raises for ``error`` from the driver: the adapter's
    DBAPI error wrapped as ``sqlalchemy.exc`` does, and the connection
    invalidated when it is lost (so the pool does not hand it out again)."""
    sync: Any = connection.sync_connection
    dialect = sync.dialect
    adapted = sync.connection.dbapi_connection
    try:
        adapted._handle_exception(error)
    except Exception as translated:
        error = translated
    base = dialect.loaded_dbapi.Error
    lost = isinstance(error, base) and dialect.is_disconnect(error, adapted, None)
    if lost:
        await connection.invalidate()
    return DBAPIError.instance(
        sql, args, error, base, connection_invalidated=lost, dialect=dialect
    )


def pin(session: AsyncSession, row: Any) -> None:
    """Keep a row loaded by other means for ``get_cached``."""
    session.info.setdefault("pinned", {})[(type(row), _identity(row))] = row


def insert_ignore(dialect_name: str, table: Any) -> Insert:
    """INSERT that skips rows whose unique key already exists (idempotent jobs)."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


async def ensure_database(url: URL) -> None:
    """Create a PostgreSQL database that does not exist yet (the embedded
    default and the migrate command); for SQLite, the file, private."""
    if url.get_backend_name() == "sqlite":
        _create_private_sqlite_file(url.database)
        return
    if url.get_backend_name() != "postgresql" or not url.database:
        return
    server = create_async_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with server.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": url.database},
            )
            if not exists:
                quoted = url.database.replace('"', '""')
                await conn.execute(text(f'CREATE DATABASE "{quoted}"'))
    finally:
        await server.dispose()


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
