"""API CPU of one ``POST /v1/service-records``, next to a minimal endpoint
(``GET /healthz``) measured in the same run.

    PYTHONPATH=$PWD .venv/bin/python -m bench.single_write_cpu [--requests 400]
    PYTHONPATH=$PWD .venv/bin/python -m bench.single_write_cpu --instructions

The app runs in this process (httpx's ASGI transport, the lifespan started as
uvicorn would), on a fresh PostgreSQL database and Redis, with an
Idempotency-Key on each write: requests go one after another, so the figure
is each request's own Python, not a share of a busy server's. CPU time is
``time.process_time()`` around the phase (the in-process client is counted
too: the minimal endpoint shows what that floor is).

On a machine shared with other work, CPU time per request moves by ±30 %
between runs. ``--instructions`` runs the same under valgrind's callgrind,
counting only during each phase: instructions per request are the same from
run to run within 1 %, whatever else the machine does (about 1.5 minutes of
valgrind per 100 requests).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from bench.run_beneficiary import (
    CONSENTS,
    OUT_DIR,
    flush_redis,
    migrate,
    person,
    recreate_database,
)
from services.beneficiary.app import create_app
from services.beneficiary.settings import BeneficiarySettings
from shared.auth import LocalSigningKey, Role
from shared.crypto import KeyRing

UNDER_CALLGRIND = "BENCH_UNDER_CALLGRIND"


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def callgrind(*argv: str) -> None:
    """Steer the callgrind this process runs under (no-op otherwise)."""
    if os.environ.get(UNDER_CALLGRIND):
        subprocess.run(
            ["callgrind_control", *argv, str(os.getpid())],
            check=True,
            capture_output=True,
        )


@asynccontextmanager
async def case_worker_client(
    database: str, redis_url: str, prefix: str
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """The beneficiary app in this process (its lifespan started as uvicorn
    would) on a fresh database and Redis, a client for it, and a case
    worker's headers in a new organisation: what each CPU bench measures
    against, set up alike so that their figures compare."""
    database_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
    await recreate_database(database)
    await flush_redis(redis_url)
    data = Path(tempfile.mkdtemp(prefix=prefix))
    settings = BeneficiarySettings(
        database_url=database_url,
        redis_url=redis_url,
        data_dir=data,
        auto_migrate=False,
    )
    key = LocalSigningKey.load_or_create(data)
    KeyRing.from_settings(None, None, None, data)
    migrate(
        dict(
            os.environ,
            BENEFICIARY_DATABASE_URL=database_url,
            BENEFICIARY_DATA_DIR=str(data),
        )
    )

    def bearer(org: uuid.UUID, role: Role) -> dict[str, str]:
        token = key.issue(
            subject=f"bench-{role}",
            organisation_id=org,
            roles=[role],
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
        )
        return {"Authorization": f"Bearer {token}"}

    app = create_app(settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app),
            base_url="http://bench",
            timeout=120,
        ) as client,
    ):
        r = await client.post(
            "/v1/organisations",
            json={"name": "Bench", "type": "un_agency"},
            headers=bearer(uuid.UUID(int=0), Role.platform_admin),
        )
        r.raise_for_status()
        yield client, bearer(uuid.UUID(r.json()["id"]), Role.case_worker)


def run_under_callgrind(
    module: str, prefix: str, capture: bool = False
) -> tuple[Path, str, dict[str, int]]:
    """Run ``module`` again with this process's arguments (less
    ``--instructions``) under callgrind, counting only between its
    ``callgrind("--instr=on")`` and ``--instr=off``. Returns the output
    folder, the run's stdout when ``capture`` (else it is shown as it
    comes) and the instructions of each ``--dump=NAME``, by NAME."""
    out = OUT_DIR / f"{prefix}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    out.mkdir(parents=True)
    argv = [a for a in sys.argv[1:] if a != "--instructions"]
    result = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}/callgrind.%p.out",
            sys.executable,
            "-m",
            module,
            *argv,
        ],
        env=dict(os.environ, **{UNDER_CALLGRIND: "1"}),
        check=True,
        capture_output=capture,
        text=True,
    )
    counted: dict[str, int] = {}
    for dump in out.glob("callgrind.*.out.*"):
        text = dump.read_text()
        trigger = re.search(r"desc: Trigger: dump (\w+)", text)
        summary = re.search(r"^summary: (\d+)", text, re.MULTILINE)
        if trigger and summary:
            counted[trigger.group(1)] = int(summary.group(1))
    return out, result.stdout or "", counted


async def measure(args: argparse.Namespace) -> None:
    async with case_worker_client(args.database, args.redis_url, "single-write-") as (
        client,
        headers,
    ):
        people = [str(uuid.uuid4()) for _ in range(200)]
        r = await client.post(
            "/v1/sync",
            json={
                "beneficiaries": [
                    {"id": i, "data": person(), "consents": CONSENTS} for i in people
                ]
            },
            headers=headers,
        )
        r.raise_for_status()
        rng = random.Random(3)

        async def write() -> None:
            response = await client.post(
                "/v1/service-records",
                json={
                    "beneficiary_id": rng.choice(people),
                    "activity_code": "individual_counselling",
                    "service_date": "2026-02-01",
                    "staff_id": "staff-1",
                    "duration_minutes": 50,
                },
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert response.status_code == 201, response.text

        async def minimal() -> None:
            response = await client.get("/healthz")
            assert response.status_code == 200, response.text

        for _ in range(50):  # warm-up: caches, prepared statements
            await write()
            await minimal()

        async def nothing() -> None:
            return None

        # "control": no request, only the callgrind steering every phase pays
        phases: list[tuple[str, Callable[[], Awaitable[None]], int]] = [
            ("control", nothing, 1),
            ("minimal", minimal, args.requests),
            ("write", write, args.requests),
        ]
        cpu: dict[str, float] = {}
        for name, request, count in phases:
            gc.collect()  # each phase starts from the same collector state
            callgrind("--instr=on")
            started, wall = time.process_time(), time.perf_counter()
            for _ in range(count):
                await request()
            used = time.process_time() - started
            wall = time.perf_counter() - wall
            callgrind(f"--dump={name}")
            callgrind("--instr=off")
            if name == "control":
                continue
            cpu[name] = 1000 * used / count
            say(
                f"{name}: {cpu[name]:.3f} ms CPU per request "
                f"({1000 * wall / count:.1f} ms wall)"
            )
        say(f"write / minimal CPU: {cpu['write'] / cpu['minimal']:.1f}")
        say(f"load average: {os.getloadavg()}")


def count_instructions(args: argparse.Namespace) -> None:
    """Run this benchmark under callgrind and print instructions per request."""
    out, _, dumps = run_under_callgrind("bench.single_write_cpu", "single-write")
    counted = {name: n / args.requests / 1e6 for name, n in dumps.items()}
    control = counted.pop("control") * args.requests  # per dump, not per request
    for name in ("minimal", "write"):
        counted[name] -= control / args.requests
        say(f"{name}: {counted[name]:.2f} M instructions per request")
    say(f"write / minimal instructions: {counted['write'] / counted['minimal']:.1f}")
    say(f"callgrind output: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.single_write_cpu", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=400, help="per phase")
    parser.add_argument("--database", default="mhpss_bench_single_write")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under callgrind (use --requests 100)",
    )
    args = parser.parse_args()
    if args.instructions:
        count_instructions(args)
    else:
        asyncio.run(measure(args))


if __name__ == "__main__":
    main()
