"""Key rotation: move every stored PII ciphertext and blind index to the
active keys, row by row, while the service keeps serving.

Each service lists its encrypted columns (``EncryptedColumn``: table, column,
and the context string its write path binds) and its blind indexes
(``BlindIndexColumn``: which encrypted column they index and how). A pass reads
rows in primary-key order (a key may have several columns), a batch at a
time, without locks. For a row that needs work it decrypts with the key named
in the ciphertext, re-encrypts with the active key and the same context,
recomputes each blind index from the plaintext under the active blind-index
key, and writes the row in its own transaction with
``UPDATE ... WHERE <its key> AND <every column read> = <value
read>`` (a few rows at once, on separate connections, each holding one row
lock at a time, so the rotation cannot deadlock with requests). A request
that changed the row in between wins (its values are newer and were written
under the keys it holds); the rotation counts a lost race and the next pass
takes the row again. Nothing else of the row changes: not its
version (clients' If-Match stays valid), not ``updated_at``, no outbox event.

Passes repeat until one finds nothing left to do, so the summary's
``remaining`` is what a final read found under old keys. Plaintext is never
logged: failures name the table, column, row id and key id only.
"""

from __future__ import annotations

import asyncio
import string
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Table, and_, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

from shared.crypto import DecryptionError, KeyRing, key_id

log = structlog.get_logger(__name__)

DEFAULT_BATCH_SIZE = 500
DEFAULT_MAX_PASSES = 5
DEFAULT_CONCURRENCY = 4


def _as_is(value: str | None) -> str | None:
    return value


@dataclass(frozen=True)
class EncryptedColumn:
    """A column of ``v1.<kid>.<...>`` ciphertexts. ``context`` is the write
    path's associated-data string as a format string over the row's columns,
    e.g. ``"case_plan:{case_id}:{version}"``."""

    model: type[SQLModel]
    column: str
    context: str


@dataclass(frozen=True)
class BlindIndexColumn:
    """A keyed digest of the plaintext of ``source`` (an encrypted column of
    the same table): ``blind_index(kind, normalise(plaintext))``, or with
    ``kind=None`` the digest of the plaintext as stored."""

    model: type[SQLModel]
    column: str
    source: str
    kind: str | None
    normalise: Callable[[str | None], str | None] = _as_is

    def compute(self, keyring: KeyRing, plaintext: str | None) -> str | None:
        if self.kind is None:
            return None if plaintext is None else keyring.digest(plaintext)
        return keyring.blind_index(self.kind, self.normalise(plaintext))


Registered = EncryptedColumn | BlindIndexColumn


@dataclass
class ColumnCounts:
    rewritten: int = 0
    failed: int = 0


@dataclass
class RotationSummary:
    """What a run did, per ``table.column``, and what it left."""

    pii_active_key: str
    blind_index_active_key: str
    check_only: bool
    passes: int = 0
    columns: dict[str, ColumnCounts] = field(
        default_factory=lambda: defaultdict(ColumnCounts)
    )
    races_lost: int = 0
    remaining: int = 0
    failed_rows: int = 0
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0: everything is under the active keys; 1: some values could not
        be read or written; 3: values remain under old keys (2 is argparse's
        usage error)."""
        if self.failed_rows:
            return 1
        return 3 if self.remaining else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "pii_active_key": self.pii_active_key,
            "blind_index_active_key": self.blind_index_active_key,
            "check_only": self.check_only,
            "passes": self.passes,
            "columns": {
                name: {"rewritten": c.rewritten, "failed": c.failed}
                for name, c in sorted(self.columns.items())
            },
            "races_lost": self.races_lost,
            "remaining": self.remaining,
            "failed_rows": self.failed_rows,
            "old_keys_removable": self.exit_code == 0,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _PassResult:
    needing: int = 0
    written: int = 0
    races_lost: int = 0
    failed_rows: int = 0
    failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True)
class _TablePlan:
    table: Table
    keys: list[str]
    """The primary key's columns (several where ids are unique per
    organisation: ``(organisation_id, id)``)."""
    encrypted: list[EncryptedColumn]
    indexes: list[BlindIndexColumn]

    @property
    def read_columns(self) -> list[str]:
        names = set(self.keys)
        for enc in self.encrypted:
            names.add(enc.column)
            names.update(_context_fields(enc.context))
        names.update(i.column for i in self.indexes)
        return sorted(names)

    @property
    def guarded_columns(self) -> list[str]:
        return [name for name in self.read_columns if name not in self.keys]

    def row_id(self, row: dict[str, Any]) -> str:
        """The row's key as logged (ids only)."""
        return ":".join(str(row[name]) for name in self.keys)


async def rotate_keys(
    engine: AsyncEngine,
    keyring: KeyRing,
    registry: Sequence[Registered],
    *,
    check_only: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_passes: int = DEFAULT_MAX_PASSES,
    concurrency: int | None = None,
) -> RotationSummary:
    """Re-encrypt and re-index every registered column under the active keys
    (idempotent); with ``check_only``, only count what is left."""
    started = time.monotonic()
    if concurrency is None:  # SQLite has one writer at a time anyway
        concurrency = 1 if engine.dialect.name == "sqlite" else DEFAULT_CONCURRENCY
    summary = RotationSummary(keyring.active, keyring.blind_index_active, check_only)
    plans = _plans(registry)
    for item in registry:  # every column shows, so the summary says what it covered
        summary.columns[f"{_table(item.model).name}.{item.column}"] = ColumnCounts()

    async def run(write: bool) -> _PassResult:
        summary.passes += 1
        result = _PassResult()
        for plan in plans:
            await _pass(
                engine, keyring, plan, summary, result, write, batch_size, concurrency
            )
        summary.races_lost += result.races_lost
        summary.failed_rows = result.failed_rows
        summary.remaining = result.needing - result.written - result.failed_rows
        for name, count in result.failed.items():
            summary.columns[name].failed = count
        return result

    for _ in range(max_passes):
        result = await run(write=not check_only)
        if check_only or result.needing == result.failed_rows:
            break
    else:  # every pass found work: a last look says what is left
        await run(write=False)
    summary.seconds = time.monotonic() - started
    log.info(
        "rotate_keys.done",
        **{k: v for k, v in summary.as_json().items() if k != "columns"},
    )
    return summary


def _plans(registry: Sequence[Registered]) -> list[_TablePlan]:
    by_table: dict[str, list[Registered]] = defaultdict(list)
    for item in registry:
        by_table[_table(item.model).name].append(item)
    plans = []
    for entries in by_table.values():
        table = _table(entries[0].model)
        keys = [c.name for c in table.primary_key.columns]
        encrypted = [e for e in entries if isinstance(e, EncryptedColumn)]
        indexes = [e for e in entries if isinstance(e, BlindIndexColumn)]
        sources = {e.column for e in encrypted}
        for index in indexes:
            if index.source not in sources:
                raise ValueError(
                    f"{table.name}.{index.column} indexes {index.source}, "
                    "which is not a registered encrypted column"
                )
        for name in [*(e.column for e in entries), *keys]:
            if name not in table.columns:
                raise ValueError(f"{table.name} has no column {name!r}")
        plans.append(_TablePlan(table, keys, encrypted, indexes))
    return plans


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def _context_fields(context: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(context) if name}


async def _pass(
    engine: AsyncEngine,
    keyring: KeyRing,
    plan: _TablePlan,
    summary: RotationSummary,
    result: _PassResult,
    write: bool,
    batch_size: int,
    concurrency: int,
) -> None:
    """One walk over a table in key order, a batch of rows at a time."""
    table = plan.table
    keys = [table.c[name] for name in plan.keys]
    columns = [table.c[name] for name in plan.read_columns]
    candidates = _candidates(plan, keyring)
    last: tuple[Any, ...] | None = None
    while True:
        statement = select(*columns).order_by(*keys).limit(batch_size)
        if candidates is not None:
            statement = statement.where(candidates)
        if last is not None:
            statement = statement.where(tuple_(*keys) > tuple_(*last))
        async with engine.connect() as connection:
            rows = [dict(r._mapping) for r in await connection.execute(statement)]
        if not rows:
            return
        last = tuple(rows[-1][name] for name in plan.keys)
        writes = []
        for row in rows:
            changes = _changes(keyring, plan, row, result)
            if changes is None:
                result.needing += 1
                result.failed_rows += 1
            elif changes:
                result.needing += 1
                writes.append((row, changes))
        if not write:
            continue
        outcomes = await _write_all(engine, plan, writes, concurrency)
        for (_, changes), outcome in zip(writes, outcomes, strict=True):
            if outcome == "written":
                result.written += 1
                for column in changes:
                    summary.columns[f"{table.name}.{column}"].rewritten += 1
            elif outcome == "race":
                result.races_lost += 1
            else:
                result.failed_rows += 1
                for column in changes:
                    result.failed[f"{table.name}.{column}"] += 1


def _candidates(plan: _TablePlan, keyring: KeyRing) -> ColumnElement[bool] | None:
    """Rows that may need work. Without blind indexes, only values not sealed
    by the active key; blind indexes do not say their key, so every row."""
    if plan.indexes:
        return None
    prefix = f"v1.{keyring.active}."
    return or_(
        *(
            and_(
                plan.table.c[e.column].is_not(None),
                ~plan.table.c[e.column].startswith(prefix, autoescape=True),
            )
            for e in plan.encrypted
        )
    )


def _changes(
    keyring: KeyRing, plan: _TablePlan, row: dict[str, Any], result: _PassResult
) -> dict[str, str | None] | None:
    """The new values the row needs, or None when a value cannot be opened."""
    changes: dict[str, str | None] = {}
    plaintexts: dict[str, str | None] = {}
    needed = {i.source for i in plan.indexes}
    for enc in plan.encrypted:
        stored = row[enc.column]
        if stored is None:
            plaintexts[enc.column] = None
            continue
        stale = key_id(stored) != keyring.active
        if not stale and enc.column not in needed:
            continue
        context = enc.context.format(**row)
        try:
            plaintext = keyring.decrypt(stored, context)
        except DecryptionError:
            result.failed[f"{plan.table.name}.{enc.column}"] += 1
            log.error(
                "rotate_keys.unreadable",
                table=plan.table.name,
                column=enc.column,
                row_id=plan.row_id(row),
                key_id=key_id(stored),
            )
            return None
        plaintexts[enc.column] = plaintext
        if stale:
            changes[enc.column] = keyring.encrypt(plaintext, context)
    for index in plan.indexes:
        expected = index.compute(keyring, plaintexts[index.source])
        if row[index.column] != expected:
            changes[index.column] = expected
    return changes


async def _write_all(
    engine: AsyncEngine,
    plan: _TablePlan,
    writes: list[tuple[dict[str, Any], dict[str, str | None]]],
    concurrency: int,
) -> list[str]:
    """Each row in its own transaction, on a few connections at once (each
    row once, so they never wait for each other)."""
    outcomes = ["" for _ in writes]
    pending = iter(range(len(writes)))

    async def writer() -> None:
        async with engine.connect() as connection:
            if engine.dialect.name != "sqlite":  # one statement, one transaction
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            for index in pending:
                row, changes = writes[index]
                outcomes[index] = await _write(connection, plan, row, changes)

    await asyncio.gather(*(writer() for _ in range(min(concurrency, len(writes)))))
    return outcomes


async def _write(
    connection: AsyncConnection,
    plan: _TablePlan,
    row: dict[str, Any],
    changes: dict[str, str | None],
) -> str:
    """Write one row in its own transaction, only if it is still as read
    (so the rotation holds one row lock per connection at a time and never
    overwrites a concurrent edit)."""
    table = plan.table
    guards = [table.c[name] == row[name] for name in plan.keys]
    for name in plan.guarded_columns:
        column = table.c[name]
        guards.append(column.is_(None) if row[name] is None else column == row[name])
    statement = update(table).where(*guards).values(**changes)
    try:
        async with connection.begin():
            written = (await connection.execute(statement)).rowcount
    except IntegrityError:
        log.error(
            "rotate_keys.constraint",
            table=table.name,
            columns=sorted(changes),
            row_id=plan.row_id(row),
        )
        return "failed"
    return "written" if written == 1 else "race"
