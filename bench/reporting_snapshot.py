"""The reporting store's snapshot (decision 0014): how fast a process is
ready from a mapped snapshot against a cold load from PostgreSQL, and what
memory processes that map the same snapshot hold of their own.

    nice -n 19 .venv/bin/python -m bench.reporting_snapshot \\
        --database mhpss_bench_reporting_s --load --services 10000000 --people 1000000

With ``--load`` the database is made first by ``bench.run_reporting``'s
loader (COPY straight into the fact tables, every row at ``seq`` 1); without
it an already loaded database is reused (migrated to head first). Then, each
in its own process: a cold process loads from PostgreSQL, writes the
snapshot and maps it in place of its copy; two more processes start from the
snapshot. All three stay alive while ``/proc/PID/smaps_rollup`` is read
(``Rss`` counts shared pages in full in every process, ``Pss`` splits them
between the processes that map them). Each times the overview for a
record-level caller. JSON goes to bench/out/; ``cold_load`` (also written
to stderr) gives the cold process's ready time and CPU, and its peak RSS
(VmHWM) when ready, after writing and mapping the snapshot, and at the end
(issue 17: ready within 30 s, at most 1.5 GiB).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.run_beneficiary import code_state, load_average, percentile
from bench.run_reporting import (
    OUT_DIR,
    QUERY_END,
    QUERY_START,
    REPO,
    database_url,
    load_in_child,
    world,
)


def process_age() -> float:
    """Seconds since this process started (the interpreter's own start and
    imports included), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    started = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - started / ticks


def smaps(pid: int) -> dict[str, float]:
    """Rss, Pss, shared and private pages of a process, in MiB."""
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    out = {}
    for name in ("Rss", "Pss", "Shared_Clean", "Private_Clean", "Private_Dirty"):
        found = re.search(rf"^{name}:\s+(\d+) kB", text, re.MULTILINE)
        out[name] = round(int(found.group(1)) / 1024, 1) if found else 0.0
    return out


def peak_rss() -> float:
    """VmHWM: the most this process ever held in RAM, in MiB."""
    found = re.search(
        r"^VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE
    )
    return round(int(found.group(1)) / 1024, 1) if found else 0.0


def held_bytes(value: Any) -> int:
    """Bytes of the NumPy arrays in what queries derived and keep (dims
    with a code per row, live masks), to tell that memory from the
    columns'."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(held_bytes(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(held_bytes(v) for v in value)
    if hasattr(value, "__dict__"):  # a Dim: codes per row, labels
        return held_bytes(vars(value))
    return 0


async def child(args: argparse.Namespace) -> None:
    """One reporting process: start (cold or from the snapshot), time the
    overview, report, then wait on stdin so the parent can read its memory
    next to the others'."""
    from services.reporting.access.service import Caller
    from services.reporting.engine.ages import AgeBands
    from services.reporting.engine.evaluator import Scope
    from services.reporting.engine.store import FactStore, Snapshots
    from services.reporting.overview.service import overview
    from services.reporting.settings import ReportingSettings
    from shared.db import make_engine
    from shared.i18n import IN_ENGLISH
    from shared.observability import configure_logging

    configure_logging("WARNING")
    imported = process_age()
    settings = ReportingSettings(
        database_url=database_url(args.database),
        redis_url=None,
        auto_migrate=False,
        beneficiary_url=None,
        training_url=None,
    )
    engine = make_engine(settings.resolved_database_url)
    snapshots = Snapshots(Path(args.snapshot_dir), every_seconds=10**9)
    store = FactStore(engine, snapshots)
    started, cpu = time.perf_counter(), time.process_time()
    await store.refresh()
    ready = time.perf_counter() - started
    ready_cpu = time.process_time() - cpu
    report: dict[str, Any] = {
        "role": args.child,
        "pid": os.getpid(),
        "started_from": store.started_from,
        "seq": store.seq,
        "import_s": round(imported, 2),
        "ready_s": round(ready, 2),
        "ready_cpu_s": round(ready_cpu, 2),
        "ready_since_process_start_s": round(process_age(), 2),
        "smaps_ready": smaps(os.getpid()),
        "peak_rss_at_ready_mib": peak_rss(),
    }
    if args.child == "cold":
        started = time.perf_counter()
        await store.settled()  # the write the first refresh started, if any
        await store.write_snapshot()  # else now (or at once False: written)
        report["write_and_map_s"] = round(time.perf_counter() - started, 2)
        report["smaps_after_write"] = smaps(os.getpid())
        report["peak_rss_after_write_mib"] = peak_rss()
    caller = Caller(
        organisation_id=world().organisations[0],
        scope=Scope(),
        record_level=True,
        indicators=None,
        subject="bench",
    )
    bands = AgeBands.parse(settings.age_bands)
    wall, used = [], []
    for run in range(args.warmup + args.runs):
        started, cpu = time.perf_counter(), time.process_time()
        await overview(
            store, settings, caller, QUERY_START, QUERY_END, bands, IN_ENGLISH
        )
        if run >= args.warmup:
            wall.append(time.perf_counter() - started)
            used.append(time.process_time() - cpu)
    report["overview"] = {
        "runs": args.runs,
        "wall_p50_ms": round((percentile(wall, 0.5) or 0) * 1000, 1),
        "cpu_p50_ms": round((percentile(used, 0.5) or 0) * 1000, 1),
        "wall_min_ms": round(min(wall) * 1000, 1) if wall else None,
    }
    report["smaps_after_overview"] = smaps(os.getpid())
    report["derived_mib"] = round(held_bytes(store.derived) / 2**20, 1)
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # what the heap keeps but frees
    report["smaps_after_malloc_trim"] = smaps(os.getpid())
    report["peak_rss_mib"] = peak_rss()
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    await asyncio.to_thread(sys.stdin.read)  # until the parent is done
    await engine.dispose()


def spawn(args: argparse.Namespace, role: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.reporting_snapshot",
            "--child",
            role,
            "--database",
            args.database,
            "--snapshot-dir",
            args.snapshot_dir,
            "--runs",
            str(args.runs),
            "--warmup",
            str(args.warmup),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def answer(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"child {process.pid} ended without a report")
    found: dict[str, Any] = json.loads(line)
    return found


async def migrate(database: str) -> None:
    from services.reporting.migrations.runner import MIGRATIONS
    from shared.db import make_engine

    engine = make_engine(database_url(database))
    try:
        await MIGRATIONS.upgrade(engine)
    finally:
        await engine.dispose()


def parent(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "benchmark": "reporting_snapshot",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(
            [".venv/bin/python -m bench.reporting_snapshot", *sys.argv[1:]]
        ),
        "code": code_state(),
        "load_average_before": load_average(),
    }
    if args.load:
        started = time.perf_counter()
        report["data"] = load_in_child(
            args.database, args.people, args.services, 0.05, args.seed
        )
        report["data"]["wall_s"] = round(time.perf_counter() - started, 1)
    asyncio.run(migrate(args.database))
    shutil.rmtree(args.snapshot_dir, ignore_errors=True)
    cold = spawn(args, "cold")
    processes = [cold]
    try:
        reports = [answer(cold)]
        mapped = [spawn(args, "mapped-1"), spawn(args, "mapped-2")]
        processes += mapped
        reports += [answer(process) for process in mapped]
        report["alive_together"] = {
            r["role"]: smaps(process.pid)
            for r, process in zip(reports, processes, strict=True)
        }
        report["processes"] = reports
        first = reports[0]
        report["cold_load"] = {  # issue 17: ready within 30 s, at most 1.5 GiB
            "started_from": first["started_from"],
            "ready_s": first["ready_s"],
            "ready_cpu_s": first["ready_cpu_s"],
            "peak_rss_at_ready_mib": first["peak_rss_at_ready_mib"],
            "peak_rss_after_write_mib": first["peak_rss_after_write_mib"],
            "peak_rss_mib": first["peak_rss_mib"],
        }
        sys.stderr.write(f"cold load: {json.dumps(report['cold_load'])}\n")
        snapshot = Path(args.snapshot_dir, "current").resolve()
        report["snapshot_mib"] = round(
            sum(f.stat().st_size for f in snapshot.iterdir()) / 2**20, 1
        )
    finally:
        for process in processes:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=120)
    report["load_average_after"] = load_average()
    return report


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reporting_snapshot",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--database", default="mhpss_bench_reporting_snapshot")
    parser.add_argument("--load", action="store_true", help="make the database")
    parser.add_argument("--services", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=150_000)
    parser.add_argument("--seed", type=int, default=20201001)
    parser.add_argument("--snapshot-dir", default=str(OUT_DIR / "snapshot"))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.child:
        asyncio.run(child(args))
        return
    report = parent(args)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = OUT_DIR / f"reporting-snapshot-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
