"""Looking for a person in a database the way someone with a dump would:
every row of every table as text, searched for the values, decrypting
nothing."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def needles(values: Mapping[str, str | None]) -> dict[str, str]:
    """Case-folded search strings, also as JSON escapes them."""
    found: dict[str, str] = {}
    for label, value in values.items():
        if not value:
            continue
        found[label] = value.casefold()
        escaped = json.dumps(value)[1:-1].casefold()
        if escaped != found[label]:
            found[f"{label} (json)"] = escaped
    return found


async def tables(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' "
                "ORDER BY table_name"
            )
        )
        return [name for (name,) in rows]


async def scan(engine: AsyncEngine, search: Mapping[str, str]) -> dict[str, set[str]]:
    """Which tables hold which of the ``search`` strings, in any column of
    any row (``SELECT t::text``, PostgreSQL)."""
    found: dict[str, set[str]] = {}
    async with engine.connect() as connection:
        for table in await tables(engine):
            rows = await connection.execute(text(f'SELECT t::text FROM "{table}" t'))
            for (row,) in rows:
                folded = row.casefold()
                for label, needle in search.items():
                    if needle in folded:
                        found.setdefault(table, set()).add(label)
    return found


async def ciphertexts_of(
    engine: AsyncEngine, ids: Iterable[str]
) -> dict[str, list[str]]:
    """Encrypted columns (``*_enc``) still holding a value in rows that name
    any of ``ids``: table -> columns."""
    wanted = [i.casefold() for i in ids]
    held: dict[str, list[str]] = {}
    async with engine.connect() as connection:
        columns = await connection.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND column_name LIKE '%\\_enc' "
                "ORDER BY table_name, column_name"
            )
        )
        by_table: dict[str, list[str]] = {}
        for table, column in columns:
            by_table.setdefault(table, []).append(column)
        for table, encrypted in by_table.items():
            rows = await connection.execute(
                text(f'SELECT t::text AS row, t.* FROM "{table}" t')
            )
            for row in rows.mappings():
                if not any(i in row["row"].casefold() for i in wanted):
                    continue
                left = [c for c in encrypted if row[c] is not None]
                if left:
                    held.setdefault(table, []).extend(left)
    return held
