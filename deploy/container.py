"""What the container runs beside a service (called by ``entrypoint.sh``, not
part of the package): the health check of an API or a worker, and the wait for
the schema that keeps a new version's pods from starting before migrations.

    python container.py health [api <service> | worker <service>]
    python container.py wait-for-schema <service> [--timeout SECONDS]

Without arguments, ``health`` finds out what the container runs from process 1's
command line, so the image's one HEALTHCHECK fits every process.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from shared.settings import ServiceSettings

SERVICES = ("beneficiary", "training", "reporting")


def settings_for(service: str) -> ServiceSettings:
    """The service's own settings class, so names resolve as the service's do."""
    module = importlib.import_module(f"services.{service}.settings")
    settings: ServiceSettings = getattr(module, f"{service.capitalize()}Settings")()
    return settings


def detect(cmdline: bytes) -> tuple[str, str] | None:
    """("api" | "worker", service) from a process command line, else None."""
    args = [a.decode() for a in cmdline.split(b"\0") if a]
    for arg in args:
        match = re.fullmatch(r"services\.(\w+)\.app:create_app", arg)
        if match and match[1] in SERVICES:
            return "api", match[1]
    if "worker" in args:
        for arg in args:
            match = re.fullmatch(r"services\.(\w+)", arg)
            if match and match[1] in SERVICES:
                return "worker", match[1]
    return None


def check_api() -> str | None:
    """None when /healthz answers 200 on this container's port, else why not."""
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status = int(response.status)
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"
    return None if status == 200 else f"{url}: HTTP {status}"


def check_worker(service: str) -> str | None:
    """None when the worker's Redis answers; its queue's health record
    (written by arq at start and hourly) is printed when there is one."""
    from redis import Redis
    from redis.exceptions import RedisError

    redis_url = settings_for(service).redis_url
    if not redis_url:
        return "no REDIS_URL: the worker cannot run"
    client = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
        record = client.get(f"{service}:health-check")
    except RedisError as exc:
        return f"Redis: {exc}"
    finally:
        client.close()
    if isinstance(record, bytes):
        print(f"{service} worker: {record.decode()}")  # noqa: T201
    return None


def health(args: list[str]) -> int:
    if args:
        kinds = ("api", "worker")
        if len(args) != 2 or args[0] not in kinds or args[1] not in SERVICES:
            print("usage: health [api|worker <service>]", file=sys.stderr)  # noqa: T201
            return 64
        found: tuple[str, str] | None = (args[0], args[1])
    else:
        found = detect(Path("/proc/1/cmdline").read_bytes())
    if found is None:
        return 0  # a one-off command (migrate, token): nothing to watch
    kind, service = found
    problem = check_api() if kind == "api" else check_worker(service)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


async def schema_state(service: str) -> tuple[set[str], set[str]]:
    """(heads of this image's migrations, revisions recorded in the database)."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from shared.db import make_engine

    runner = importlib.import_module(f"services.{service}.migrations.runner")
    heads = set(ScriptDirectory.from_config(runner.MIGRATIONS.config()).get_heads())
    engine = make_engine(settings_for(service).resolved_database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT version_num FROM alembic_version")
            )
            current = {str(row[0]) for row in rows}
    except Exception:  # no database, no table yet, not reachable: not ready
        current = set()
    finally:
        await engine.dispose()
    return heads, current


def wait_for_schema(service: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        heads, current = asyncio.run(schema_state(service))
        if current == heads:
            print(f"{service}: schema at head {sorted(heads)}")  # noqa: T201
            return 0
        if time.monotonic() >= deadline:
            print(  # noqa: T201
                f"{service}: schema at {sorted(current) or 'nothing'}, this image "
                f"needs {sorted(heads)}; run the migrate job",
                file=sys.stderr,
            )
            return 1
        time.sleep(2)


def main(argv: list[str]) -> int:
    if argv[:1] == ["health"]:
        return health(argv[1:])
    parser = argparse.ArgumentParser(prog="container.py wait-for-schema")
    parser.add_argument("command", choices=["wait-for-schema"])
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    return wait_for_schema(args.service, args.timeout)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
