"""End-to-end import of a KoboToolbox CSV export, the way a programme would
run a large one: ``python -m services.beneficiary import`` in its own
process, on a fresh PostgreSQL database, each row a person (with two
consents) and a counselling session.

    .venv/bin/python -m bench.run_import --rows 100000 [--kill-at 0.4]

With ``--kill-at`` the command is killed with SIGKILL once that share of the
rows is committed, then resumed with ``--resume``; the run checks that the
database then holds each row's records exactly once. Prints the figures and
the table counts (bench/RESULTS.md, "Imports").

    .venv/bin/python -m bench.run_import --instructions [--rows 4000]

counts the command's instructions per row with valgrind's callgrind: the
import of ``--rows`` rows and of a quarter as many, the difference divided by
the difference in rows, so the process's start is not in the figure. CPU
time moves by ±15 % here with the machine's load; this count does not (a
few minutes of valgrind per thousand rows).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import resource
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench.run_beneficiary import (
    ADMIN_URL,
    DatabaseCpu,
    code_state,
    load_average,
    migrate,
    recreate_database,
)

REPO = Path(__file__).resolve().parent.parent
DATABASE = "mhpss_bench_import"
CORES = os.cpu_count() or 1
MAPPING = REPO / "tests" / "data" / "kobo_registration_mapping.json"
HEADER = [
    "respondent/full_name",
    "respondent/phone",
    "respondent/sex",
    "respondent/age",
    "respondent/displacement",
    "location/site",
    "consent/registration",
    "consent/services",
    "session/activity",
    "session/date",
    "session/staff",
    "session/minutes",
    "meta/instanceID",
    "_id",
    "_uuid",
    "_submission_time",
]


def write_export(path: Path, rows: int) -> None:
    """A Kobo CSV export (XML names, '/' groups) of ``rows`` submissions."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for n in range(1, rows + 1):
            submission = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-{n}"))
            writer.writerow(
                [
                    f"Person {n} {uuid.uuid4().hex[:6]}",
                    f"+9647{n:09d}",
                    "f" if n % 2 else "m",
                    20 + n % 40,
                    "idp",
                    "qadia" if n % 3 else "dawoodia",
                    "yes",
                    "yes",
                    "counselling",
                    "03/02/2026",
                    f"cw-{n % 17}",
                    45,
                    f"uuid:{submission}",
                    n,
                    submission,
                    "2026-02-03T11:12:13",
                ]
            )


async def sql(database: str, query: str) -> Any:
    url = make_url(ADMIN_URL)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=database
    )
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


async def committed_rows(database: str) -> int:
    value = await sql(database, "SELECT coalesce(max(next_row), 0) FROM import_job")
    return int(value)


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def run(args: argparse.Namespace) -> dict[str, Any]:
    DATABASE = args.database
    await recreate_database(DATABASE)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    url = make_url(ADMIN_URL).set(database=DATABASE)
    env = {
        **os.environ,
        "BENEFICIARY_DATABASE_URL": url.render_as_string(hide_password=False),
        "BENEFICIARY_DATA_DIR": str(data_dir),
        "BENEFICIARY_REDIS_URL": "",
        "REDIS_URL": "",
        "BENEFICIARY_IMPORT_BATCH_ROWS": str(args.batch_rows),
        "PYTHONPATH": str(REPO),
    }
    migrate(env)
    organisation = uuid.uuid4()
    await sql(
        DATABASE,
        "INSERT INTO organisation (id, name, type, created_at) VALUES "
        f"('{organisation}', 'Bench org', 'international_ngo', now()) RETURNING id",
    )
    export = data_dir / "export.csv"
    write_export(export, args.rows)
    command = [*args.wrapper, sys.executable, "-m", "services.beneficiary", "import"]
    cpu_before = children_cpu()
    postgres = await DatabaseCpu(DATABASE).start()
    started = time.monotonic()
    first = await asyncio.create_subprocess_exec(
        *command,
        str(export),
        "--organisation",
        str(organisation),
        "--mapping",
        str(MAPPING),
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    killed_at = None
    if args.kill_at is not None:
        while first.returncode is None:
            if await committed_rows(DATABASE) >= args.kill_at * args.rows:
                first.send_signal(signal.SIGKILL)
                await first.wait()
                killed_at = await committed_rows(DATABASE)
                break
            await asyncio.sleep(0.2)
    out, _ = await first.communicate()
    if killed_at is not None:
        import_id = await sql(DATABASE, "SELECT id FROM import_job")
        resumed = await asyncio.create_subprocess_exec(
            *command,
            "--resume",
            str(import_id),
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await resumed.communicate()
    elapsed = time.monotonic() - started
    await postgres.stop()
    cpu = children_cpu() - cpu_before
    job = json.loads(out.decode().strip().splitlines()[-1])
    counts = {
        table: int(await sql(DATABASE, f"SELECT count(*) FROM {table}"))
        for table in ("beneficiary", "service_record", "consent_entry", "outbox_event")
    }
    return {
        "rows": args.rows,
        "batch_rows": args.batch_rows,
        "seconds": round(elapsed, 1),
        "rows_per_second": round(args.rows / elapsed, 1),
        "records_per_second": round(2 * args.rows / elapsed, 1),
        "import_cpu_seconds": round(cpu, 2),
        "import_cpu_ms_per_record": round(1000 * cpu / (2 * args.rows), 3),
        "postgres_cpu_seconds": round(postgres.seconds, 2),
        # the least wall time these CPU figures allow: the command's own
        # Python runs on one core at a time (its threads share the GIL), and
        # both together on every core
        "floor_seconds": round(max(cpu, (cpu + postgres.seconds) / CORES), 1),
        "killed_at_row": killed_at,
        "status": job["status"],
        "outcomes": job["outcomes"],
        "counts": counts,
        "exactly_once": counts["beneficiary"] == counts["service_record"] == args.rows
        and counts["consent_entry"] == 2 * args.rows,
        "load_average": load_average(),
        "code": code_state(),
    }


def instructions(args: argparse.Namespace) -> dict[str, Any]:
    """Instructions per imported row: callgrind's total of an import of
    ``args.rows`` rows less that of a quarter as many (the start, the same in
    both, cancels), over the rows between them."""
    out = Path(tempfile.mkdtemp(prefix="bench-import-callgrind-"))
    totals: dict[int, int] = {}
    for rows in (args.rows // 4, args.rows):
        file = out / f"callgrind.{rows}.out"
        wrapper = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={file}"]
        result = asyncio.run(
            run(argparse.Namespace(**{**vars(args), "rows": rows, "wrapper": wrapper}))
        )
        if not result["exactly_once"]:
            raise SystemExit(f"the import of {rows} rows was not exact: {result}")
        found = re.search(r"^(?:summary|totals): (\d+)", file.read_text(), re.MULTILINE)
        if found is None:
            raise SystemExit(f"no instruction total in {file}")
        totals[rows] = int(found.group(1))
    small, large = sorted(totals)
    return {
        "rows": [small, large],
        "instructions": [totals[small], totals[large]],
        "k_instructions_per_row": round(
            (totals[large] - totals[small]) / (large - small) / 1000, 1
        ),
        "callgrind_files": str(out),
        "code": code_state(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-rows", type=int, default=1000)
    parser.add_argument("--kill-at", type=float, default=None)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per row under callgrind (--rows 4000 is plenty)",
    )
    args = parser.parse_args()
    if args.instructions:
        print(json.dumps(instructions(args), indent=2))  # noqa: T201
        return
    args.wrapper = []
    print(json.dumps(asyncio.run(run(args)), indent=2))  # noqa: T201


if __name__ == "__main__":
    main()
