"""How reporting could run past one process, measured on the same facts in
one run: the in-memory engine (today), plain SQL on PostgreSQL, and DuckDB
(an embedded columnar engine) over a copy of the fact tables.

The data is ``bench.run_reporting``'s synthetic programme, loaded by the same
code. For each option: how long it takes to be ready (cold refresh, or the
copy into DuckDB), the memory it adds to this process, and the overview's
tables that the bench has SQL for (the engine's ``answer()`` for each, and
their plain SQL statements in PostgreSQL and in DuckDB), wall and CPU time
per run. DuckDB's answers are checked against PostgreSQL's, table by table.

    .venv/bin/python -m bench.reporting_options --services 1000000 --people 150000

Decision 0014 (docs/decisions) reads these figures."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import duckdb

from bench.run_beneficiary import code_state, load_average
from bench.run_reporting import (
    FACT_TABLES,
    OUT_DIR,
    QUERY_END,
    QUERY_START,
    connect,
    database_url,
    indicator_sql,
    load_in_child,
    memory,
    repeat,
    timed,
    world,
)
from services.reporting.access.service import Caller
from services.reporting.catalogue.catalogue import indicators
from services.reporting.engine.ages import AgeBands
from services.reporting.engine.evaluator import Scope
from services.reporting.engine.store import FactStore
from services.reporting.indicators.service import answer
from services.reporting.overview.service import SECTIONS
from services.reporting.settings import ReportingSettings
from shared.db import make_engine

DUCK_TYPES = {
    "uuid": "UUID",
    "text": "VARCHAR",
    "character varying": "VARCHAR",
    "date": "DATE",
    "timestamp with time zone": "TIMESTAMPTZ",
    "timestamp without time zone": "TIMESTAMP",
    "smallint": "BIGINT",
    "integer": "BIGINT",
    "bigint": "BIGINT",
    "boolean": "BOOLEAN",
    "numeric": "DOUBLE",
    "double precision": "DOUBLE",
    "real": "DOUBLE",
    "jsonb": "JSON",
    "json": "JSON",
}


def in_duckdb(statement: str) -> str:
    """The one PostgreSQL idiom of the bench's SQL DuckDB spells otherwise:
    the elements of a JSON array as rows."""
    return re.sub(
        r"json_array_elements_text\((\w+)\) (\w+)",
        r"unnest(json_extract_string(\1, '$[*]')) AS elements(\2)",
        statement,
    )


def tables_in(statements: Sequence[str]) -> set[str]:
    """The tables the statements read (FROM and JOIN)."""
    return {
        name
        for statement in statements
        for name in re.findall(r"(?:FROM|JOIN)\s+([a-z_]+)", statement)
    }


async def copy_into_duckdb(
    database: str, tables: set[str], folder: Path
) -> tuple[duckdb.DuckDBPyConnection, dict[str, int]]:
    """Each table as CSV out of PostgreSQL (COPY), then into DuckDB with the
    PostgreSQL column types (arrays as text); rows per table."""
    conn = await connect(database)
    duck = duckdb.connect()
    duck.execute("SET threads = 2")
    rows = {}
    try:
        for table in sorted(tables):
            columns = await conn.fetch(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = $1 ORDER BY ordinal_position",
                table,
            )
            if not columns:
                continue
            path = folder / f"{table}.csv"
            await conn.copy_from_table(table, output=str(path), format="csv")
            types = ", ".join(
                f"'{c['column_name']}': '{DUCK_TYPES.get(c['data_type'], 'VARCHAR')}'"
                for c in columns
            )
            duck.execute(
                f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}', "
                f"header = false, allow_quoted_nulls = false, columns = {{{types}}})"
            )
            counted = duck.execute(f"SELECT count(*) FROM {table}").fetchone()
            rows[table] = int(counted[0]) if counted else 0
            path.unlink()
    finally:
        await conn.close()
    return duck, rows


def normalised(rows: Sequence[Sequence[Any]]) -> list[tuple[str, ...]]:
    """Rows as sorted tuples of text (numbers rounded), to compare engines."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.6f}"
        if value is None:
            return "NULL"
        try:
            return f"{float(value):.6f}" if "." in str(value) else str(value)
        except ValueError:
            return str(value)

    return sorted(tuple(cell(v) for v in row) for row in rows)


async def measure_engine(
    settings: ReportingSettings,
    caller: Caller,
    tables: Sequence[tuple[str, Sequence[str]]],
    bands: AgeBands,
    runs: int,
) -> dict[str, Any]:
    """The engine's cold refresh (time, CPU, memory it adds), then the tables
    answered one after another; the store is dropped on return."""
    engine = make_engine(settings.resolved_database_url)
    store = FactStore(engine)
    gc.collect()
    before = memory()["VmRSS"]
    started, used = time.perf_counter(), time.process_time()
    await store.refresh()
    ready = {
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(time.process_time() - used, 2),
        "rss_added_mib": round(memory()["VmRSS"] - before, 1),
    }

    async def engine_overview() -> None:
        for indicator_id, by in tables:
            await answer(
                store,
                settings,
                caller,
                indicators()[indicator_id],
                start=QUERY_START,
                end=QUERY_END,
                by=by,
                bands=bands,
            )

    try:
        return {
            "engine_ready": ready,
            "engine_overview": timed(await repeat(engine_overview, runs, 1)),
        }
    finally:
        await engine.dispose()


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {}
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        report["data"] = pool.submit(
            load_in_child,
            args.database,
            args.people,
            args.services,
            args.anonymous_share,
            args.seed,
        ).result()
    settings = ReportingSettings(
        database_url=database_url(args.database),
        redis_url=None,
        data_dir=Path(tempfile.mkdtemp(prefix="bench-options-")),
        auto_migrate=False,
        beneficiary_url=None,
        training_url=None,
    )
    bands = AgeBands.parse(settings.age_bands)
    tables, statements = [], []
    for _, indicator_id, by in SECTIONS:
        try:
            sql = indicator_sql(indicators()[indicator_id], by, bands, False)[0]
        except ValueError:  # a table the bench has no SQL for: left out of all three
            continue
        tables.append((indicator_id, by))
        statements.append(sql)
    report["tables"] = [f"{i} by {','.join(by)}" for i, by in tables]
    caller = Caller(
        organisation_id=world().organisations[0],
        scope=Scope(),
        record_level=True,
        indicators=None,
        subject="bench",
    )

    # 1. The in-memory engine, as every reporting process holds it today.
    report.update(await measure_engine(settings, caller, tables, bands, args.runs))
    gc.collect()

    # 2. Plain SQL on PostgreSQL: no copy, no memory in the API process.
    conn = await connect(args.database)
    try:

        async def postgres_overview() -> list[list[Any]]:
            return [list(await conn.fetch(s)) for s in statements]

        report["postgres_overview"] = timed(
            await repeat(postgres_overview, max(3, args.runs // 3), 1)
        )
        postgres_answers = [
            normalised([tuple(r.values()) for r in rows])
            for rows in await postgres_overview()
        ]
    finally:
        await conn.close()

    # 3. DuckDB over a copy of the fact tables, in this process.
    gc.collect()
    before = memory()["VmRSS"]
    started, used = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="bench-duck-") as folder:
        duck, rows = await copy_into_duckdb(
            args.database, tables_in(statements) | set(FACT_TABLES), Path(folder)
        )
    report["duckdb_ready"] = {
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(time.process_time() - used, 2),
        "rss_added_mib": round(memory()["VmRSS"] - before, 1),
        "rows": rows,
    }
    duck_statements = [in_duckdb(s) for s in statements]

    async def duckdb_overview() -> list[list[Any]]:
        return [duck.execute(s).fetchall() for s in duck_statements]

    report["duckdb_overview"] = timed(await repeat(duckdb_overview, args.runs, 1))
    differing = [
        f"{i}/{by}"
        for (i, by), pg, dd in zip(
            tables, postgres_answers, await duckdb_overview(), strict=True
        )
        if pg != normalised(dd)
    ]
    report["duckdb_tables_differing_from_postgres"] = differing
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=150_000)
    parser.add_argument("--anonymous-share", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20201001)
    parser.add_argument("--database", default="mhpss_bench_options")
    args = parser.parse_args()
    started = datetime.now(UTC)
    code, load = code_state(), load_average()
    report = asyncio.run(measure(args))
    out = {
        "benchmark": "reporting_options",
        "started_at": started.isoformat(timespec="seconds"),
        "command": "python -m bench.reporting_options "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "cpus": os.cpu_count(),
        "code": code,
        "load_average_before": load,
        "load_average_after": load_average(),
        **report,
    }
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / f"options-{started:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    sys.stdout.write(json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
