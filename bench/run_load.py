"""The whole platform under load on PostgreSQL and Redis, as production runs
it: the three APIs under uvicorn and their three arq workers, each service on
its own database, driven by locust (``bench/load_users.py``) for a fixed time
per scenario.

    .venv/bin/python -m bench.run_load --duration 60 --users 32

Scenarios (``--scenarios``, run one after another on the same stack):

- ``mix``: service records, registrations, sync batches, supervision
  records, indicator and overview reads, weighted as a programme's day;
- ``service-records``: the single write the field does most;
- ``registrations``: new people with their consents;
- ``sync``: devices uploading batches of new people and their services.

For each scenario: per request type throughput, p50/p99 and errors (locust's
statistics after every user has started), sync records created per second,
resident memory per process group (VmRSS summed over its process tree,
sampled every second: peak and end) and CPU seconds per process group
(each API, each worker, PostgreSQL, the load generator). Prints a table and
writes ``bench/out/load-<UTC stamp>/report.json``. Every process is stopped
at the end, even when the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench.run_beneficiary import (
    ADMIN_URL,
    CONSENTS,
    REPO,
    ProcessGroup,
    Server,
    _all_stats,
    code_state,
    flush_redis,
    load_average,
    migrate,
    parsed,
    person,
    process_tree,
    recreate_database,
    rss_mib,
    run_folder,
)
from shared.auth import LOCAL_KEY_FILE, LocalSigningKey, Role

SERVICES = ("beneficiary", "training", "reporting")
SCENARIOS = ("mix", "service-records", "registrations", "sync")
REDIS_URL = "redis://127.0.0.1:6379/7"
ISSUER, AUDIENCE = "mhpss-local", "mhpss"


class Stack:
    """The three APIs and their workers, each in its own process group."""

    def __init__(self, args: argparse.Namespace, run_dir: Path):
        self.args, self.run_dir = args, run_dir
        self.key_dir = run_dir / "keys"
        self.urls = {
            service: f"http://127.0.0.1:{args.port + n}"
            for n, service in enumerate(SERVICES)
        }
        self.groups: dict[str, ProcessGroup] = {}

    def env(self, service: str) -> dict[str, str]:
        """What the container's entrypoint would set: the platform-wide URLs
        (each service appends its name to the database), its own data folder
        with the shared signing key linked in, the other services' URLs."""
        data_dir = self.run_dir / "data" / service
        data_dir.mkdir(parents=True, exist_ok=True)
        link = data_dir / LOCAL_KEY_FILE
        if not link.exists():
            link.symlink_to(self.key_dir / LOCAL_KEY_FILE)
        database = make_url(ADMIN_URL).set(database=self.args.database)
        return {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.endswith(("DATABASE_URL", "REDIS_URL", "DATA_DIR"))
            },
            "DATABASE_URL": database.render_as_string(hide_password=False),
            "REDIS_URL": REDIS_URL,
            "DATA_DIR": str(data_dir),
            "AUTO_MIGRATE": "false",
            "LOG_LEVEL": "INFO",
            "BENEFICIARY_TRAINING_URL": self.urls["training"],
            "TRAINING_BENEFICIARY_URL": self.urls["beneficiary"],
            "REPORTING_BENEFICIARY_URL": self.urls["beneficiary"],
            "REPORTING_TRAINING_URL": self.urls["training"],
        }

    async def start(self) -> None:
        self.key_dir.mkdir(parents=True, exist_ok=True)
        LocalSigningKey.load_or_create(self.key_dir)
        for service in SERVICES:
            await recreate_database(f"{self.args.database}_{service}")
            migrate(self.env(service), service)
        await flush_redis(REDIS_URL)
        for n, service in enumerate(SERVICES):
            workers = (
                self.args.beneficiary_workers
                if service == "beneficiary"
                else self.args.api_workers
            )
            self.groups[f"{service}-api"] = Server(
                self.env(service),
                self.args.port + n,
                workers,
                self.run_dir / f"{service}-api.log",
                app=f"services.{service}.app:create_app",
            )
            self.groups[f"{service}-worker"] = ProcessGroup(
                [sys.executable, "-m", f"services.{service}", "worker"],
                self.env(service),
                self.run_dir / f"{service}-worker.log",
            )
        for group in self.groups.values():
            group.start()
        for service in SERVICES:
            server = self.groups[f"{service}-api"]
            assert isinstance(server, Server)
            await server.wait_ready(self.urls[service])

    def stop(self) -> None:
        for group in self.groups.values():
            group.stop()

    def pids(self) -> dict[str, list[int]]:
        return {name: process_tree(g.pid) for name, g in self.groups.items()}


def token(key: LocalSigningKey, org: uuid.UUID, role: Role) -> str:
    return key.issue(
        subject=f"load-{role}",
        organisation_id=org,
        roles=[role],
        issuer=ISSUER,
        audience=AUDIENCE,
        ttl=timedelta(hours=6),
    )


async def seed(stack: Stack, people: int, trainees: int) -> dict[str, Any]:
    """An organisation, its sites, people registered with consent and served
    once (for service records) and trainees (for supervision), all through
    the APIs; then wait until reporting has ingested them, so reads read
    something."""
    key = LocalSigningKey.load_or_create(stack.key_dir)
    platform = token(key, uuid.UUID(int=0), Role.platform_admin)
    admin = {"Authorization": f"Bearer {platform}"}
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        base = stack.urls["beneficiary"]
        r = await client.post(
            f"{base}/v1/organisations",
            json={"name": "Load test NGO", "type": "international_ngo"},
            headers=admin,
        )
        r.raise_for_status()
        org = uuid.UUID(r.json()["id"])
        tokens = {
            role: token(key, org, Role(role))
            for role in ("case_worker", "trainer", "me_officer")
        }
        worker = {"Authorization": f"Bearer {tokens['case_worker']}"}
        sites = await client.get(
            f"{base}/v1/locations", params={"level": "site"}, headers=worker
        )
        sites.raise_for_status()
        site_ids = [s["id"] for s in sites.json()["items"]][:10]
        if not site_ids:
            raise RuntimeError("no sites after migration (reference data missing)")

        async def register(n: int) -> str:
            body = {**person(), "site_id": site_ids[n % len(site_ids)]}
            r = await client.post(
                f"{base}/v1/beneficiaries",
                json={**body, "consents": CONSENTS},
                headers=worker,
            )
            r.raise_for_status()
            person_id = str(r.json()["id"])
            served = await client.post(
                f"{base}/v1/service-records",
                json={
                    "beneficiary_id": person_id,
                    "activity_code": "pfa",
                    "service_date": "2026-01-11",
                    "site_id": body["site_id"],
                },
                headers=worker,
            )
            served.raise_for_status()
            return person_id

        async def trainee(n: int) -> str:
            r = await client.post(
                f"{stack.urls['training']}/v1/trainees",
                json={
                    "full_name": f"Trainee {n}",
                    "audience": "ngo",
                    "affiliation": "Load test NGO",
                    "role": "psychosocial worker",
                    "profession": "social worker",
                    "sex": "female" if n % 2 else "male",
                },
                headers={"Authorization": f"Bearer {tokens['trainer']}"},
            )
            r.raise_for_status()
            return str(r.json()["id"])

        person_ids = await asyncio.gather(*(register(n) for n in range(people)))
        trainee_ids = await asyncio.gather(*(trainee(n) for n in range(trainees)))
        reader = {"Authorization": f"Bearer {tokens['me_officer']}"}
        deadline = time.monotonic() + 120
        while True:
            r = await client.get(
                f"{stack.urls['reporting']}/v1/indicators/people_reached/values",
                params={"start": "2026-01-01", "end": "2026-12-31"},
                headers=reader,
            )
            reached = r.json()["total"]["value"] if r.status_code == 200 else 0
            if (reached or 0) >= people:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"reporting did not ingest the seed: {r.text}")
            await asyncio.sleep(1)
    return {
        "urls": stack.urls,
        "organisation_id": str(org),
        "tokens": tokens,
        "site_ids": site_ids,
        "people": list(person_ids),
        "trainee_ids": list(trainee_ids),
    }


def cpu_by_group(pids: dict[str, list[int]], database: str) -> dict[str, float]:
    """CPU seconds so far of each process group and of all of PostgreSQL."""
    stats = _all_stats()
    usage = {
        name: sum(stats[pid][2] for pid in tree if pid in stats)
        for name, tree in pids.items()
    }
    usage["postgres (all)"] = sum(s[2] for s in stats.values() if s[0] == "postgres")
    usage["postgres (own backends)"] = sum(
        stats[pid][2] for pid in stats if _backend_of(pid, database)
    )
    return usage


def _backend_of(pid: int, database: str) -> bool:
    """A PostgreSQL backend serving one of this run's databases (its process
    title names the database); other sessions' backends share the server."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return title.startswith(b"postgres: ") and f" {database}_".encode() in title


def rss_by_group(pids: dict[str, list[int]]) -> dict[str, float]:
    return {name: rss_mib(tree) for name, tree in pids.items()}


def read_stats(prefix: Path) -> list[dict[str, Any]]:
    """Locust's per-request-type statistics (times in ms)."""
    rows = []
    with (prefix.parent / f"{prefix.name}_stats.csv").open() as handle:
        for row in csv.DictReader(handle):

            def number(name: str, row: dict[str, str] = row) -> float | None:
                value = row.get(name, "N/A")
                return None if value in ("N/A", "") else float(value)

            rows.append(
                {
                    "name": row["Name"],
                    "requests": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "requests_per_s": round(number("Requests/s") or 0, 1),
                    "p50_ms": number("50%"),
                    "p99_ms": number("99%"),
                    "max_ms": round(number("Max Response Time") or 0),
                }
            )
    return rows


def read_failures(prefix: Path) -> list[dict[str, str]]:
    path = prefix.parent / f"{prefix.name}_failures.csv"
    if not path.exists():
        return []
    with path.open() as handle:
        return [{k: v[:500] for k, v in row.items()} for row in csv.DictReader(handle)][
            :20
        ]


async def run_scenario(
    args: argparse.Namespace, stack: Stack, seed_file: Path, scenario: str
) -> dict[str, Any]:
    """Locust for ``args.duration`` seconds; memory sampled every second."""
    users = args.sync_users if scenario == "sync" else args.users
    prefix = stack.run_dir / f"locust-{scenario}"
    counts = stack.run_dir / f"sync-outcomes-{scenario}.json"
    env = {
        **os.environ,
        "LOAD_SEED": str(seed_file),
        "LOAD_SCENARIO": scenario,
        "LOAD_COUNTS": str(counts),
        "LOAD_BATCH_SIZE": str(args.batch_size),
        "LOAD_RATE_PER_USER": str(args.rate / users if args.rate else 0),
    }
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(REPO / "bench" / "load_users.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{args.duration}s",
        "--reset-stats",
        "--only-summary",
        "--stop-timeout",
        "60",
        "--csv",
        str(prefix),
        "--loglevel",
        "WARNING",
    ]
    load_before = load_average()
    locust = ProcessGroup(argv, env, stack.run_dir / f"locust-{scenario}.log")
    pids = stack.pids()
    before = cpu_by_group(pids, args.database)
    locust.start()
    profiler = None
    if args.profile:  # the beneficiary API's processes, while the load runs
        profiler = ProcessGroup(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(stack.groups["beneficiary-api"].pid),
                "--subprocesses",
                "--nonblocking",
                "--rate",
                "100",
                "--duration",
                str(args.duration),
                "--format",
                "raw",
                "-o",
                str(stack.run_dir / f"profile-{scenario}.txt"),
            ],
            env,
            stack.run_dir / f"py-spy-{scenario}.log",
        )
        profiler.start()
    peak: dict[str, float] = {}
    locust_cpu = 0.0
    assert locust.process is not None
    while locust.process.poll() is None:
        await asyncio.sleep(1)
        pids = stack.pids()
        for name, mib in rss_by_group(pids).items():
            peak[name] = max(peak.get(name, 0.0), mib)
        stats = _all_stats()
        locust_cpu = max(
            locust_cpu,
            sum(stats[p][2] for p in process_tree(locust.pid) if p in stats),
        )
    after = cpu_by_group(pids, args.database)
    if profiler is not None and profiler.process is not None:
        profiler.process.wait(timeout=60)
    if locust.process.returncode not in (0, 1):  # 1: some requests failed
        raise RuntimeError(f"locust failed:\n{locust.log_tail()}")
    requests = read_stats(prefix)
    total = next(r for r in requests if r["name"] == "Aggregated")
    measured = total["requests"] / total["requests_per_s"] if total["requests"] else 0
    outcomes = json.loads(counts.read_text()) if counts.exists() else {}
    created = int(outcomes.get("created", 0))
    cpu = {name: round(after[name] - before[name], 1) for name in after}
    cpu["load_generator"] = round(locust_cpu, 1)
    return {
        "scenario": scenario,
        "users": users,
        "rate_target": args.rate or None,
        "measured_s": round(measured, 1),
        "requests": requests,
        "sync_record_outcomes": outcomes,
        "sync_records_created_per_s": round(created / measured, 1) if measured else 0,
        "failures": read_failures(prefix),
        "rss_mib_peak": peak,
        "rss_mib_end": rss_by_group(stack.pids()),
        "rss_mib_end_per_process": {
            name: [rss_mib([pid]) for pid in tree]
            for name, tree in stack.pids().items()
        },
        "cpu_seconds": cpu,
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }


async def table_counts(database: str) -> dict[str, dict[str, int]]:
    """Rows per table at the end (each service's own database)."""
    tables = {
        "beneficiary": ("beneficiary", "service_record", "audit_entry", "outbox_event"),
        "training": ("supervision_session", "outbox_event"),
        "reporting": ("service_fact", "beneficiary_fact"),
    }
    url = make_url(ADMIN_URL)
    found: dict[str, dict[str, int]] = {}
    for service, names in tables.items():
        connection = await asyncpg.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            database=f"{database}_{service}",
        )
        try:
            found[service] = {
                t: int(await connection.fetchval(f"SELECT count(*) FROM {t}"))
                for t in names
            }
        finally:
            await connection.close()
    return found


async def run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    code_before, load_before = code_state(), load_average()
    started = time.monotonic()
    await stack.start()
    seed_data = await seed(stack, args.people, args.trainees)
    seed_file = stack.run_dir / "seed.json"
    seed_file.write_text(json.dumps(seed_data))
    setup_s = round(time.monotonic() - started, 1)
    results = []
    for scenario in args.scenarios:
        result = await run_scenario(args, stack, seed_file, scenario)
        results.append(result)
        sys.stderr.write(summary_table([result]))
    return {
        "benchmark": "load",
        "command": " ".join(["python -m bench.run_load", *sys.argv[1:]]),
        "started_at": args.started_at,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
        },
        "config": {
            key: value
            for key, value in vars(args).items()
            if key not in ("started_at",)
        },
        "code": code_before,
        "code_changed_during_run": code_state() != code_before,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "setup_s": setup_s,
        "results": results,
        "table_counts_end": await table_counts(args.database),
    }


def summary_table(results: list[dict[str, Any]]) -> str:
    """Markdown: one row per request type, then memory and CPU per group."""
    lines = [
        "| scenario | request | requests | req/s | p50 ms | p99 ms | max ms | "
        "failures |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for r in result["requests"]:
            lines.append(
                f"| {result['scenario']} | {r['name']} | {r['requests']} | "
                f"{r['requests_per_s']} | {r['p50_ms']} | {r['p99_ms']} | "
                f"{r['max_ms']} | {r['failures']} |"
            )
        if result["sync_record_outcomes"]:
            lines.append(
                f"| {result['scenario']} | sync records created/s | "
                f"{result['sync_record_outcomes'].get('created', 0)} | "
                f"{result['sync_records_created_per_s']} | | | | "
                f"{json.dumps(result['sync_record_outcomes'])} |"
            )
    lines += ["", "| scenario | group | RSS MiB peak | RSS MiB end | CPU s |"]
    lines.append("|---|---|---|---|---|")
    for result in results:
        for name, cpu in result["cpu_seconds"].items():
            lines.append(
                f"| {result['scenario']} | {name} | "
                f"{result['rss_mib_peak'].get(name, '')} | "
                f"{result['rss_mib_end'].get(name, '')} | {cpu} |"
            )
    return "\n".join(lines) + "\n\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run_load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duration", type=int, default=60, help="s per scenario")
    parser.add_argument("--users", type=int, default=32, help="locust users")
    parser.add_argument(
        "--sync-users", type=int, default=4, help="users of the sync scenario"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="target requests/s over all users (default: closed loop, no pause)",
    )
    parser.add_argument(
        "--scenarios",
        type=lambda s: s.split(","),
        default=list(SCENARIOS),
        help=f"comma-separated, of: {','.join(SCENARIOS)}",
    )
    parser.add_argument("--beneficiary-workers", type=int, default=1)
    parser.add_argument("--api-workers", type=int, default=1, help="other APIs")
    parser.add_argument("--batch-size", type=int, default=500, help="sync records")
    parser.add_argument("--people", type=int, default=500, help="seeded people")
    parser.add_argument("--trainees", type=int, default=40, help="seeded trainees")
    parser.add_argument("--port", type=int, default=8781, help="first of 3 ports")
    parser.add_argument("--database", default="mhpss_load", help="name prefix")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the beneficiary API with py-spy during each scenario "
        "(collapsed stacks: profile-<scenario>.txt in the run folder)",
    )
    return parsed(parser, set(SCENARIOS))


def main() -> None:
    args = parse_args()
    run_dir = run_folder("load-{stamp}")
    stack = Stack(args, run_dir)
    try:
        report = asyncio.run(run(args, stack))
    finally:
        stack.stop()
    report["error_lines"] = {
        name: len(group.error_lines()) for name, group in stack.groups.items()
    }
    report["error_samples"] = {
        name: [line[:1000] for line in group.error_lines()[:5]]
        for name, group in stack.groups.items()
        if group.error_lines()
    }
    (run_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(summary_table(report["results"]))
    sys.stdout.write(f"JSON: {(run_dir / 'report.json').relative_to(REPO)}\n")
    for name, count in report["error_lines"].items():
        if count:
            sys.stdout.write(f"{name}: {count} error lines in its log\n")


if __name__ == "__main__":
    main()
