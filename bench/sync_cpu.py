"""API CPU per record of ``POST /v1/sync`` (500-record batches: 100 new
people, 400 of their services, as ``bench.run_beneficiary --scenarios sync``
sends), the app in this process behind httpx's ASGI transport.

    PYTHONPATH=$PWD .venv/bin/python -m bench.sync_cpu [--batches 10] [--profile FILE]
    PYTHONPATH=$PWD .venv/bin/python -m bench.sync_cpu --instructions --batches 4

Batches go one after another, their bodies encoded before the clock starts,
so the figure is the server's own Python per record (the in-process client's
share is small), not a share of a busy server's. CPU is
``time.process_time()`` around the measured batches; ``--profile`` writes
a cProfile of them (pstats, CPU time) to FILE. ``--instructions`` runs
the same under valgrind's callgrind, counting only during the measured
batches (``bench.single_write_cpu``'s way): instructions per record are the
same from run to run whatever else the machine does.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import resource
import time

from bench.run_beneficiary import sync_builder
from bench.single_write_cpu import (
    callgrind,
    case_worker_client,
    run_under_callgrind,
    say,
)


async def measure(args: argparse.Namespace) -> None:
    build = sync_builder(500, 4)
    async with case_worker_client(args.database, args.redis_url, "sync-cpu-") as (
        client,
        case_worker,
    ):
        headers = {**case_worker, "Content-Type": "application/json"}

        async def send(body: bytes) -> int:
            response = await client.post("/v1/sync", content=body, headers=headers)
            assert response.status_code == 200, response.text
            return sum(
                1 for r in response.json()["results"] if r["status"] == "created"
            )

        for _ in range(args.warmup):
            body, _count = build()
            await send(json.dumps(body).encode())
        bodies = [json.dumps(build()[0]).encode() for _ in range(args.batches)]
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        gc.collect()
        created = 0
        started, wall = time.process_time(), time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_SELF)
        callgrind("--instr=on")
        if profiler is not None:
            profiler.enable()
        for encoded in bodies:
            created += await send(encoded)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        used = time.process_time() - started
        callgrind("--dump=batches")
        callgrind("--instr=off")
        after = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter() - wall
        say(
            json.dumps(
                {
                    "batches": args.batches,
                    "records_created": created,
                    "cpu_seconds": round(used, 3),
                    "cpu_ms_per_record": round(1000 * used / created, 4),
                    "user_seconds": round(after.ru_utime - before.ru_utime, 3),
                    "system_seconds": round(after.ru_stime - before.ru_stime, 3),
                    "wall_seconds": round(wall, 2),
                    "load_average": os.getloadavg(),
                }
            )
        )


def count_instructions(args: argparse.Namespace) -> None:
    """Run this benchmark under callgrind; print instructions per record."""
    out, stdout, dumps = run_under_callgrind("bench.sync_cpu", "sync-cpu", True)
    created = json.loads(stdout.strip().splitlines()[-1])["records_created"]
    if "batches" in dumps:
        per_record = dumps["batches"] / created
        say(f"{per_record / 1e3:.1f} k instructions per record ({created} records)")
    say(f"callgrind output: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sync_cpu", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--database", default="mhpss_bench_sync_cpu")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--profile", default=None, help="write a cProfile here")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions (callgrind)"
    )
    args = parser.parse_args()
    if args.instructions:
        count_instructions(args)
    else:
        asyncio.run(measure(args))


if __name__ == "__main__":
    main()
