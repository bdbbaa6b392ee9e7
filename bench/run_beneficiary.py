"""Registration and batch-sync throughput of the beneficiary service on
PostgreSQL, measured over real HTTP against a separate uvicorn process, so the
numbers include the ASGI server, JSON, token checks, encryption and the
database, as a field deployment would see them.

    .venv/bin/python -m bench.run_beneficiary --duration 25 --concurrency 32

Creates a fresh database, migrates it, starts the service, drives load for a
fixed time per scenario, prints a table and writes JSON to bench/out/. The
server is always stopped, even when the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import random
import re
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from services.beneficiary.settings import BeneficiarySettings
from shared.auth import LocalSigningKey, Role
from shared.crypto import KeyRing

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "bench" / "out"
ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/8"
CONSENTS = [
    {"purpose": "registration", "granted": True, "form_version": "2024-1"},
    {"purpose": "services", "granted": True, "form_version": "2024-1"},
]
ERROR_LOG_PATTERN = re.compile(
    r'"level":\s*"(error|critical|exception)"|Traceback|^ERROR', re.IGNORECASE
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# A request body and how many records it carries.
Build = Callable[[], tuple[dict[str, Any] | None, int]]
"""A request's body (None: a GET) and how many records it carries."""
# Per-record outcomes read from a successful response.
Outcomes = Callable[[httpx.Response], Counter[str]]


# --------------------------------------------------------------------------
# Request bodies


def person() -> dict[str, Any]:
    """A beneficiary like tests/beneficiary/api.py, with a unique name so
    duplicate detection finds nothing and runs stay comparable."""
    return {
        "full_name": f"Person {uuid.uuid4().hex[:12]}",
        "phone": None,
        "sex": "female",
        "date_of_birth": "1990-04-01",
        "marital_status": "married",
        "disability": "no",
        "displacement_status": "idp",
        "nationality": "IRQ",
        "registration_channel": "outreach",
        "registration_date": "2026-01-10",
    }


def registration_body() -> tuple[dict[str, Any], int]:
    return {**person(), "consents": CONSENTS}, 1


def sync_builder(batch_size: int, records_per_person: int) -> Build:
    """Batches of new people and their services, as a tablet syncs after a day
    offline: ``batch_size // (1 + records_per_person)`` people, the rest
    service records spread over them."""
    people = max(1, batch_size // (1 + records_per_person))
    records = batch_size - people

    def build() -> tuple[dict[str, Any], int]:
        ids = [str(uuid.uuid4()) for _ in range(people)]
        return {
            "device_id": f"bench-{uuid.uuid4().hex[:8]}",
            "beneficiaries": [
                {"id": i, "data": person(), "consents": CONSENTS} for i in ids
            ],
            "service_records": [
                {
                    "id": str(uuid.uuid4()),
                    "data": {
                        "beneficiary_id": ids[n % people],
                        "activity_code": "pfa",
                        "service_date": "2026-02-03",
                    },
                }
                for n in range(records)
            ],
        }, people + records

    return build


FIRST_NAMES = (
    "محمد",
    "أحمد",
    "علي",
    "حسين",
    "فاطمة",
    "زينب",
    "مريم",
    "عمر",
    "حسن",
    "نور",
)
FAMILY_NAMES = ("الجبوري", "العبيدي", "الدليمي", "التميمي", "الشمري")
COMMON_NAMES = [f"{a} {b}" for a in FIRST_NAMES for b in FAMILY_NAMES]
"""50 common names: in a large programme most people share one with many."""


def common_people_builder(batch_size: int, seed: int = 17) -> Build:
    """Batches of new people only, each named from ``COMMON_NAMES`` with a
    birth date in 1950-2010 and, for one in ten, a phone from a small pool
    (households share phones), so duplicate detection has real work."""
    rng = random.Random(seed)

    def build() -> tuple[dict[str, Any], int]:
        people = []
        for _ in range(batch_size):
            data = person()
            data["full_name"] = rng.choice(COMMON_NAMES)
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(60 * 365))
            data["date_of_birth"] = born.isoformat()
            if rng.random() < 0.1:
                data["phone"] = f"0750 {rng.randrange(10_000):04d} 000"
            people.append({"id": str(uuid.uuid4()), "data": data, "consents": CONSENTS})
        return {"device_id": "bench-common", "beneficiaries": people}, batch_size

    return build


async def register_many(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    build: Build,
    total: int,
    concurrency: int,
) -> list[tuple[float, int]]:
    """Send batches until ``total`` people are created; (seconds since the
    start, people created by then) after each answer."""
    progress: list[tuple[float, int]] = []
    created = sent = 0
    started = time.perf_counter()

    async def caller() -> None:
        nonlocal created, sent
        while sent < total:
            body, records = build()
            sent += records
            response = await client.post("/v1/sync", json=body, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"sync: {response.status_code} {response.text}")
            created += sync_outcomes(response).get("created", 0)
            progress.append((time.perf_counter() - started, created))

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return progress


def window_rates(progress: list[tuple[float, int]], window: int) -> dict[str, Any]:
    """People/s over the first and the last ``window`` people created."""
    end_time, total = progress[-1]
    first = next(p for p in progress if p[1] >= window)
    last_start = max((p for p in progress if p[1] <= total - window), default=(0.0, 0))
    rate_first = first[1] / first[0]
    rate_last = (total - last_start[1]) / (end_time - last_start[0])
    return {
        "people": total,
        "seconds": round(end_time, 1),
        "window": window,
        "first_rate": round(rate_first, 1),
        "last_rate": round(rate_last, 1),
        "last_over_first": round(rate_last / rate_first, 3),
    }


async def service_record_builder(base_url: str, headers: dict[str, str]) -> Build:
    """One service record at a time for one of 200 people registered first
    (by sync, unmeasured), as a field worker records after a session."""
    people = [str(uuid.uuid4()) for _ in range(200)]
    body = {
        "beneficiaries": [
            {"id": i, "data": person(), "consents": CONSENTS} for i in people
        ]
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        r = await client.post("/v1/sync", json=body, headers=headers)
    if r.status_code != 200:
        raise RuntimeError(f"registering people: {r.status_code} {r.text}")
    rng = random.Random(3)

    def build() -> tuple[dict[str, Any], int]:
        return {
            "beneficiary_id": rng.choice(people),
            "activity_code": "individual_counselling",
            "service_date": "2026-02-01",
            "staff_id": "staff-1",
            "duration_minutes": 50,
        }, 1

    return build


def registration_outcomes(response: httpx.Response) -> Counter[str]:
    return Counter({"created": 1})


def sync_outcomes(response: httpx.Response) -> Counter[str]:
    return Counter(r["status"] for r in response.json()["results"])


# --------------------------------------------------------------------------
# Load driver


@dataclass
class Phase:
    """What one timed phase of a scenario saw."""

    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: dict[str, str] = field(default_factory=dict)
    error_seconds: dict[str, list[float]] = field(default_factory=dict)
    records_sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    record_error_samples: list[str] = field(default_factory=list)

    def fail(self, kind: str, text: str, after: float) -> None:
        """Count an error; keep its first text and how long it took to come."""
        self.errors[kind] += 1
        self.error_samples.setdefault(kind, text[:1500])
        self.error_seconds.setdefault(kind, []).append(round(after, 2))


async def drive(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    build: Build,
    outcomes: Outcomes,
    *,
    seconds: float,
    concurrency: int,
    expected: int,
    idempotency_key: bool,
    max_requests: int | None = None,
) -> Phase:
    """``concurrency`` callers post back to back until ``seconds`` pass (or
    ``max_requests`` are sent); the phase ends when the last request in flight
    is answered or times out, so its length is bounded by seconds + timeout."""
    phase = Phase()
    deadline = time.monotonic() + seconds

    async def caller() -> None:
        while time.monotonic() < deadline and (
            max_requests is None or phase.requests < max_requests
        ):
            body, records = build()
            request_headers = headers
            if idempotency_key:
                request_headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
            phase.requests += 1
            phase.records_sent += records
            started = time.perf_counter()
            try:
                if body is None:
                    response = await client.get(path, headers=request_headers)
                else:
                    response = await client.post(
                        path, json=body, headers=request_headers
                    )
            except httpx.HTTPError as exc:
                after = time.perf_counter() - started
                phase.fail(type(exc).__name__, f"{type(exc).__name__}: {exc!r}", after)
                continue
            latency = time.perf_counter() - started
            if response.status_code != expected:
                phase.fail(f"HTTP {response.status_code}", response.text, latency)
                continue
            phase.latencies.append(latency)
            seen = outcomes(response)
            phase.outcomes.update(seen)
            if set(seen) - {"created"} and len(phase.record_error_samples) < 5:
                phase.record_error_samples.extend(
                    json.dumps(r)[:500]
                    for r in response.json().get("results", [])[:500]
                    if r.get("status") != "created"
                )
                del phase.record_error_samples[5:]

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    phase.elapsed = time.perf_counter() - started
    return phase


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None when nothing succeeded."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def summarise(name: str, phase: Phase, usage: dict[str, float]) -> dict[str, Any]:
    ok = len(phase.latencies)
    created = phase.outcomes.get("created", 0)
    p50 = percentile(phase.latencies, 0.50)
    p99 = percentile(phase.latencies, 0.99)
    return {
        "scenario": name,
        "seconds": round(phase.elapsed, 2),
        "requests": phase.requests,
        "requests_ok": ok,
        "request_errors": sum(phase.errors.values()),
        "errors_by_kind": dict(phase.errors),
        "error_samples": phase.error_samples,
        "error_latency_s": {
            kind: {"min": min(v), "max": max(v)}
            for kind, v in phase.error_seconds.items()
        },
        "requests_per_s": round(ok / phase.elapsed, 2),
        "records_sent": phase.records_sent,
        "records_created": created,
        "records_not_created_in_ok_requests": sum(phase.outcomes.values()) - created,
        "record_outcomes": dict(phase.outcomes),
        "record_error_samples": phase.record_error_samples[:5],
        "records_per_s": round(created / phase.elapsed, 1),
        "latency_ms": {
            "p50": None if p50 is None else round(p50 * 1000, 1),
            "p99": None if p99 is None else round(p99 * 1000, 1),
            "max": round(max(phase.latencies) * 1000, 1) if ok else None,
        },
        "cpu_seconds": usage,
    }


# --------------------------------------------------------------------------
# Processes: the server, its memory and CPU, PostgreSQL's CPU


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(comm, ppid, cpu seconds including reaped children) of one process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return comm, int(fields[1]), ticks / CLOCK_TICKS


class DatabaseCpu:
    """PostgreSQL's CPU for one database since ``start``: the CPU of each of
    its backends, read from /proc every 0.1 s and kept per backend, so other
    databases on the same server are not counted (a backend that ends loses
    at most its last 0.1 s)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.before: dict[int, float] = {}
        self.seen: dict[int, float] = {}
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> DatabaseCpu:
        url = make_url(ADMIN_URL)
        connection = await asyncpg.connect(
            host=url.host, port=url.port, user=url.username, database="postgres"
        )

        async def read() -> None:
            for row in await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1", self.database
            ):
                if (stat := _stat(row["pid"])) is not None:
                    self.seen[row["pid"]] = stat[2]

        async def sample() -> None:
            try:
                while True:
                    await asyncio.sleep(0.1)
                    await read()
            finally:
                await connection.close()

        await read()
        self.before = dict(self.seen)
        self.task = asyncio.ensure_future(sample())
        return self

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    @property
    def seconds(self) -> float:
        return sum(cpu - self.before.get(pid, 0.0) for pid, cpu in self.seen.items())


def _all_stats() -> dict[int, tuple[str, int, float]]:
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = stat
    return stats


def process_tree(root: int) -> list[int]:
    """The uvicorn supervisor and its worker processes (with --workers > 1)."""
    stats = _all_stats()
    tree, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (_, ppid, _) in stats.items() if ppid == parent]
        tree.extend(children)
        frontier.extend(children)
    return tree


def rss_mib(pids: list[int]) -> float:
    """Sum of VmRSS over the server's processes."""
    total_kib = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total_kib += int(match.group(1)) if match else 0
    return round(total_kib / 1024, 1)


def cpu_snapshot(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the server, all PostgreSQL processes, and us."""
    stats = _all_stats()
    tree = set(process_tree(server_pid))
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "server": sum(s[2] for pid, s in stats.items() if pid in tree),
        "postgres": sum(s[2] for s in stats.values() if s[0] == "postgres"),
        "bench_client": own.ru_utime + own.ru_stime,
    }


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: round(after[key] - before[key], 1) for key in after}


def cpu_bound(usage: dict[str, float], records: int) -> int:
    """The most records/s this machine's cores could give at the run's CPU per
    record (the server's, the bench database's backends' and this client's
    together): a rate past it needs less CPU per record, not more
    concurrency."""
    used = ("server", "postgres_bench_database", "bench_client")
    per_record = sum(usage[key] for key in used) / records
    return round((os.cpu_count() or 1) / per_record)


class ProcessGroup:
    """A process started in its own process group, so stopping it also stops
    its children (uvicorn's worker processes)."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path):
        self.argv, self.env, self.log = argv, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM the group, SIGKILL whatever is left after 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def error_lines(self) -> list[str]:
        if not self.log.exists():
            return []
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if ERROR_LOG_PATTERN.search(line)]


def uvicorn_argv(app: str, port: int, workers: int) -> list[str]:
    """The API as the container's entrypoint starts it (app factory, no
    access log), on 127.0.0.1."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
    ]


class Server(ProcessGroup):
    """A uvicorn server under test."""

    def __init__(
        self,
        env: dict[str, str],
        port: int,
        workers: int,
        log: Path,
        app: str = "bench.serve:app",
    ):
        super().__init__(uvicorn_argv(app, port, workers), env, log)
        self.port, self.workers = port, workers

    async def wait_ready(self, base_url: str, within: float = 90) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"server exited:\n{self.log_tail()}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.25)
        raise RuntimeError(f"server not ready in {within} s:\n{self.log_tail()}")


# --------------------------------------------------------------------------
# Setup


async def recreate_database(name: str) -> str:
    url = make_url(ADMIN_URL)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
        version = str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()
    return version


async def flush_redis(url: str) -> None:
    redis = Redis.from_url(url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


async def table_counts(database: str) -> dict[str, int]:
    url = make_url(ADMIN_URL)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=database
    )
    try:
        return {
            table: int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
            for table in (
                "beneficiary",
                "service_record",
                "outbox_event",
                "duplicate_candidate",
            )
        }
    finally:
        await connection.close()


COPIED_TABLES = (
    "beneficiary",
    "consent_entry",
    "service_record",
    "outbox_event",
    "audit_entry",
    "duplicate_candidate",
)


async def plain_copy(database: str, records: int, batch_size: int) -> dict[str, Any]:
    """The floor sync is compared with: the rows sync wrote (people, consents,
    services, events, audit, duplicate flags), COPYed again by asyncpg into
    empty twins of their tables (same columns and indexes), one transaction
    per ``batch_size`` records, as one client with nothing else to do."""
    url = make_url(ADMIN_URL)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=database
    )
    try:
        rows: dict[str, list[Any]] = {}
        for table in COPIED_TABLES:
            rows[table] = [tuple(r) for r in await connection.fetch(f"TABLE {table}")]
            await connection.execute(
                f"DROP TABLE IF EXISTS copy_{table}; "
                f"CREATE TABLE copy_{table} (LIKE {table} INCLUDING ALL)"
            )
        total = len(rows["beneficiary"]) + len(rows["service_record"])
        batches = max(1, total // batch_size)
        started = time.perf_counter()
        for n in range(batches):
            async with connection.transaction():
                for table, table_rows in rows.items():
                    step = -(-len(table_rows) // batches)
                    chunk = table_rows[n * step : (n + 1) * step]
                    if chunk:
                        await connection.copy_records_to_table(
                            f"copy_{table}", records=chunk
                        )
        seconds = time.perf_counter() - started
        for table in COPIED_TABLES:
            await connection.execute(f"DROP TABLE copy_{table}")
    finally:
        await connection.close()
    return {
        "records": total,
        "rows": {t: len(r) for t, r in rows.items()},
        "seconds": round(seconds, 2),
        "records_per_s": round(total / seconds, 1),
    }


def code_state() -> dict[str, Any]:
    """Which code was measured: HEAD and uncommitted changes to the service."""

    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", *argv], cwd=REPO, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    return {
        "head": git("rev-parse", "--short", "HEAD"),
        "dirty": git("status", "--porcelain", "--", "services", "shared").splitlines(),
        "diff_sha1": hashlib.sha1(
            git("diff", "HEAD", "--", "services", "shared").encode()
        ).hexdigest()[:12],
    }


def load_average() -> list[float]:
    """Other work on the machine skews a 2-core benchmark; record it."""
    return [round(v, 2) for v in os.getloadavg()]


def migrate(env: dict[str, str], service: str = "beneficiary") -> None:
    """Migrate once before the workers start, so two workers never race."""
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}", "migrate"],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{done.stdout.decode()[-3000:]}")


async def case_worker_headers(
    base_url: str, settings: BeneficiarySettings
) -> dict[str, str]:
    """An organisation created through the API and a case worker's token."""
    key = LocalSigningKey.load_or_create(settings.data_dir)

    def token(org: uuid.UUID, role: Role) -> str:
        return key.issue(
            subject=f"bench-{role}",
            organisation_id=org,
            roles=[role],
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
        )

    admin = {"Authorization": f"Bearer {token(uuid.UUID(int=0), Role.platform_admin)}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        r = await client.post(
            "/v1/organisations",
            json={"name": f"Bench {uuid.uuid4().hex[:6]}", "type": "un_agency"},
            headers=admin,
        )
    if r.status_code != 201:
        raise RuntimeError(f"creating the organisation: {r.status_code} {r.text}")
    org = uuid.UUID(r.json()["id"])
    return {"Authorization": f"Bearer {token(org, Role.case_worker)}"}


# --------------------------------------------------------------------------
# Run


async def run(args: argparse.Namespace, server: Server, env: dict[str, str]) -> Any:
    code_before, load_before = code_state(), load_average()
    pg_version = await recreate_database(args.database)
    await flush_redis(args.redis_url)
    settings = BeneficiarySettings(
        database_url=env["BENEFICIARY_DATABASE_URL"],
        redis_url=args.redis_url,
        data_dir=Path(env["BENEFICIARY_DATA_DIR"]),
    )
    # Create the local signing and PII keys now, not in racing workers.
    LocalSigningKey.load_or_create(settings.data_dir)
    KeyRing.from_settings(None, None, None, settings.data_dir)
    migrate(env)
    server.start()
    base_url = f"http://127.0.0.1:{args.port}"
    await server.wait_ready(base_url)
    headers = await case_worker_headers(base_url, settings)

    scenarios: dict[str, tuple[str, Build, Outcomes, int]] = {
        "register": (
            "/v1/beneficiaries",
            registration_body,
            registration_outcomes,
            201,
        ),
        "sync": (
            "/v1/sync",
            sync_builder(args.batch_size, args.records_per_person),
            sync_outcomes,
            200,
        ),
    }
    scenarios["minimal"] = ("/healthz", lambda: (None, 1), registration_outcomes, 200)
    if "service-records" in args.scenarios:
        scenarios["service-records"] = (
            "/v1/service-records",
            await service_record_builder(base_url, headers),
            registration_outcomes,
            201,
        )
    most = max(args.concurrency, args.sync_concurrency or 0)
    limits = httpx.Limits(max_connections=most, max_keepalive_connections=most)
    results = []
    async with httpx.AsyncClient(
        base_url=base_url, timeout=args.timeout, limits=limits
    ) as client:
        for name in args.scenarios:
            if name == "duplicates":
                results.append(await duplicates_phase(args, server, client, headers))
                continue
            path, build, outcomes, expected = scenarios[name]
            concurrency = args.concurrency
            warmup = args.warmup
            if name == "sync":
                concurrency = args.sync_concurrency or args.concurrency
                warmup = min(warmup, 1)  # one 500-record batch warms that path
            options: dict[str, Any] = {
                "expected": expected,
                "idempotency_key": args.idempotency_key
                and name in ("register", "service-records"),
            }
            if warmup > 0:
                await drive(
                    client,
                    path,
                    headers,
                    build,
                    outcomes,
                    seconds=args.timeout,
                    concurrency=min(concurrency, warmup),
                    max_requests=warmup,
                    **options,
                )
            profiler = profile(args, server, name)
            before = cpu_snapshot(server.pid)
            postgres = await DatabaseCpu(args.database).start()
            phase = await drive(
                client,
                path,
                headers,
                build,
                outcomes,
                seconds=args.duration,
                concurrency=concurrency,
                **options,
            )
            await postgres.stop()
            usage = cpu_delta(before, cpu_snapshot(server.pid))
            usage["postgres_bench_database"] = round(postgres.seconds, 1)
            summary = summarise(name, phase, usage)
            if profiler is not None:
                profiler.wait(timeout=60)
            summary["concurrency"] = concurrency
            summary["server_rss_mib"] = rss_mib(process_tree(server.pid))
            created = summary["records_created"]
            if created:
                summary["api_cpu_ms_per_record"] = round(
                    1000 * summary["cpu_seconds"]["server"] / created, 3
                )
            if name == "sync" and created:
                copy = await plain_copy(args.database, created, args.batch_size)
                summary["plain_copy"] = copy
                summary["copy_over_api"] = round(
                    copy["records_per_s"] / summary["records_per_s"], 2
                )
                summary["cpu_bound_records_per_s"] = cpu_bound(
                    summary["cpu_seconds"], created
                )
            results.append(summary)
            report_line(summary)
    per_request: dict[str, float] = {
        r["scenario"]: r["api_cpu_ms_per_record"]
        for r in results
        if r.get("api_cpu_ms_per_record")
    }
    if "minimal" in per_request and "service-records" in per_request:
        sys.stderr.write(
            "  service-records / minimal API CPU per request: "
            f"{per_request['service-records'] / per_request['minimal']:.1f}\n"
        )

    return {
        "benchmark": "beneficiary",
        "started_at": args.started_at,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgresql": pg_version,
            "kernel": platform.release(),
        },
        "config": {
            "workers": args.workers,
            "concurrency": args.concurrency,
            "sync_concurrency": args.sync_concurrency or args.concurrency,
            "duration_s": args.duration,
            "warmup_requests": args.warmup,
            "batch_size": args.batch_size,
            "records_per_person": args.records_per_person,
            "timeout_s": args.timeout,
            "idempotency_key": args.idempotency_key,
            "database": args.database,
        },
        "code": code_before,
        "code_changed_during_run": code_state() != code_before,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "results": results,
        "server_rss_mib_end": rss_mib(process_tree(server.pid)),
        "server_processes": len(process_tree(server.pid)),
        "table_counts_end": await table_counts(args.database),
    }


async def duplicates_phase(
    args: argparse.Namespace,
    server: Server,
    client: httpx.AsyncClient,
    headers: dict[str, str],
) -> dict[str, Any]:
    """``--people`` registered by sync batches from 50 common names: does the
    rate of the last 10 000 hold up against the first 10 000?"""
    before = cpu_snapshot(server.pid)
    progress = await register_many(
        client,
        headers,
        common_people_builder(args.batch_size),
        args.people,
        args.sync_concurrency or 2,
    )
    summary = window_rates(progress, min(10_000, args.people // 4))
    summary["scenario"] = "duplicates"
    summary["cpu_seconds"] = cpu_delta(before, cpu_snapshot(server.pid))
    summary["duplicate_candidates"] = (await table_counts(args.database)).get(
        "duplicate_candidate"
    )
    sys.stderr.write(f"  duplicates: {json.dumps(summary)}\n")
    return summary


def profile(
    args: argparse.Namespace, server: Server, scenario: str
) -> subprocess.Popen[bytes] | None:
    """With ``--profile``: py-spy samples the server while a phase runs
    (collapsed stacks in profile-<scenario>.txt in the run folder)."""
    if not args.profile:
        return None
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            *("record", "--pid", str(server.pid), "--subprocesses", "--gil"),
            *("--rate", "100", "--duration", str(int(args.duration))),
            *("--format", "raw", "-o", str(args.run_dir / f"profile-{scenario}.txt")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def report_line(summary: dict[str, Any]) -> None:
    sys.stderr.write(
        f"  {summary['scenario']}: {summary['requests_ok']} ok, "
        f"{summary['request_errors']} errors in {summary['seconds']} s\n"
    )


def table(report: dict[str, Any]) -> str:
    """The results as a Markdown table (also pasted into RESULTS.md)."""
    head = (
        "| scenario | workers | conc. | req ok | req/s | records/s | p50 ms | "
        "p99 ms | max ms | errors | RSS MiB | CPU s server/pg/client | "
        "API CPU ms/record | plain COPY records/s (ratio); CPU bound records/s |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    config = report["config"]
    for r in report["results"]:
        if r["scenario"] == "duplicates":
            rows.append(
                f"| duplicates | {config['workers']} | "
                f"{config['sync_concurrency']} | {r['people']} people in "
                f"{r['seconds']} s | first {r['window']}: {r['first_rate']}/s | "
                f"last {r['window']}: {r['last_rate']}/s | ratio "
                f"{r['last_over_first']} | | | | | {r['cpu_seconds']['server']}/"
                f"{r['cpu_seconds']['postgres']}/{r['cpu_seconds']['bench_client']}"
                f" | {r['duplicate_candidates']} candidate rows | |"
            )
            continue
        lat, cpu = r["latency_ms"], r["cpu_seconds"]
        errors = r["request_errors"]
        rejected = r["records_not_created_in_ok_requests"]
        kinds = ", ".join(f"{k}: {v}" for k, v in r["errors_by_kind"].items())
        error_text = f"{errors} ({kinds})" if errors else "0"
        if rejected > 0:
            error_text += f"; {rejected} records not created"
        rows.append(
            f"| {r['scenario']} | {config['workers']} | {r['concurrency']} | "
            f"{r['requests_ok']} | {r['requests_per_s']} | {r['records_per_s']} | "
            f"{lat['p50']} | {lat['p99']} | {lat['max']} | {error_text} | "
            f"{r['server_rss_mib']} | {cpu['server']}/{cpu['postgres']}/"
            f"{cpu['bench_client']} | {r.get('api_cpu_ms_per_record')} | "
            + (
                f"{r['plain_copy']['records_per_s']} ({r['copy_over_api']}×); "
                f"CPU bound {r['cpu_bound_records_per_s']}"
                if "plain_copy" in r
                else "–"
            )
            + " |"
        )
    return head + "\n".join(rows) + "\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run_beneficiary", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duration", type=float, default=25, help="s per scenario")
    parser.add_argument(
        "--warmup",
        type=int,
        default=64,
        help="unmeasured registrations first (sync: one batch)",
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--sync-concurrency", type=int, help="sync callers (default: --concurrency)"
    )
    parser.add_argument("--batch-size", type=int, default=500, help="records/batch")
    parser.add_argument(
        "--records-per-person", type=int, default=4, help="service records each"
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--timeout", type=float, default=60, help="s per request")
    parser.add_argument(
        "--scenarios",
        type=lambda s: s.split(","),
        default=["register", "sync"],
        help="comma-separated: register,sync,duplicates,service-records,minimal "
        "(GET /healthz: the floor a request costs)",
    )
    parser.add_argument("--database", default="mhpss_bench_beneficiary")
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument(
        "--profile", action="store_true", help="sample the server with py-spy"
    )
    parser.add_argument(
        "--idempotency-key",
        action="store_true",
        help="send a fresh Idempotency-Key with each registration",
    )
    parser.add_argument(
        "--people", type=int, default=200_000, help="duplicates: people in all"
    )
    return parsed(
        parser, {"register", "sync", "duplicates", "service-records", "minimal"}
    )


def parsed(parser: argparse.ArgumentParser, scenarios: set[str]) -> argparse.Namespace:
    """The arguments, with ``--scenarios`` checked and the start time noted."""
    args = parser.parse_args()
    unknown = set(args.scenarios) - scenarios
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.started_at = datetime.now(UTC).isoformat(timespec="seconds")
    return args


def run_folder(template: str) -> Path:
    """A new folder under bench/out/, named by ``template`` with ``{stamp}``
    replaced by the UTC time."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = OUT_DIR / template.format(stamp=stamp)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def main() -> None:
    args = parse_args()
    run_dir = args.run_dir = run_folder("beneficiary-{stamp}-w" + str(args.workers))
    url = make_url(ADMIN_URL).set(database=args.database)
    env = {
        **os.environ,
        "BENEFICIARY_DATABASE_URL": url.render_as_string(hide_password=False),
        "BENEFICIARY_REDIS_URL": args.redis_url,
        "BENEFICIARY_DATA_DIR": str(run_dir / "data"),
        "BENEFICIARY_AUTO_MIGRATE": "false",
    }
    server = Server(env, args.port, args.workers, run_dir / "server.log")
    try:
        report = asyncio.run(run(args, server, env))
    finally:
        server.stop()
    errors = server.error_lines()
    report["server_log"] = str(server.log.relative_to(REPO))
    report["server_error_lines"] = len(errors)
    report["server_error_samples"] = [line[:2000] for line in errors[:20]]
    (run_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(table(report))
    sys.stdout.write(f"\nJSON: {(run_dir / 'report.json').relative_to(REPO)}\n")
    if errors:
        sys.stdout.write(f"server log has {len(errors)} error lines, first:\n")
        sys.stdout.write(errors[0][:2000] + "\n")


if __name__ == "__main__":
    main()
