"""The operations commands every service has:

python -m services.<name> migrate                    # schema to head (+ reference data)
python -m services.<name> worker                     # arq worker (needs REDIS_URL)
python -m services.<name> new-migration -m "message" # developers
python -m services.<name> rotate-keys [--check]      # data to the active keys

A service adds its own commands with ``commands`` (the beneficiary service's
``locations load``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.app import Runtime, start_runtime
from shared.crypto import LOCAL_KEY_FILE, add_local_keys, keyring_from
from shared.db import make_engine
from shared.files import private_umask
from shared.migrations import Migrations
from shared.observability import configure_logging
from shared.queue import Job
from shared.rotation import DEFAULT_BATCH_SIZE, Registered, rotate_keys
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)
REDIS_LOST = (RedisConnectionError, RedisTimeoutError, OSError)
RECONNECT_SECONDS = 1.0


@dataclass(frozen=True)
class Command:
    """A service's own command: its arguments, and what it does with the
    database (its answer is printed as one JSON line; 0 is success)."""

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[AsyncEngine, argparse.Namespace], Awaitable[dict[str, object]]]


def run_service_cli(
    *,
    prog: str,
    settings: ServiceSettings,
    migrations: Migrations,
    jobs: Sequence[Job] = (),
    make_worker: Callable[..., Worker] | None = None,
    encrypted: Sequence[Registered] | None = None,
    commands: Mapping[str, Command] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=prog)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in (commands or {}).items():
        command.arguments(sub.add_parser(name, help=command.help))
    sub.add_parser("migrate", help="upgrade the database to head")
    if make_worker is not None:
        sub.add_parser("worker", help="run the arq worker")
    revision = sub.add_parser("new-migration", help="autogenerate a migration")
    revision.add_argument("-m", "--message", required=True)
    if encrypted is not None:
        rotate = sub.add_parser(
            "rotate-keys",
            help="re-encrypt and re-index stored values under the active keys",
        )
        rotate.add_argument(
            "--check", action="store_true", help="count what is left; write nothing"
        )
        rotate.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        rotate.add_argument(
            "--new-local-keys",
            action="store_true",
            help="embedded default only: add fresh active keys to the key file "
            "in DATA_DIR and stop (restart the services, then rotate)",
        )
    args = parser.parse_args()
    private_umask()
    configure_logging(settings.log_level)
    if args.command == "migrate":
        asyncio.run(_with_engine(settings, migrations.upgrade))
    elif args.command == "new-migration":
        asyncio.run(
            _with_engine(
                settings, lambda engine: migrations.new_revision(engine, args.message)
            )
        )
    elif args.command == "worker" and make_worker is not None:
        if not settings.redis_url:
            parser.error("the worker needs REDIS_URL")
        asyncio.run(_work(settings, jobs, make_worker))
    elif commands and args.command in commands:
        sys.exit(asyncio.run(_own(settings, commands[args.command], args)))
    elif args.command == "rotate-keys" and encrypted is not None:
        if not settings.pii_keys and not (settings.data_dir / LOCAL_KEY_FILE).exists():
            parser.error(
                f"no keys: set PII_KEYS, or DATA_DIR to where {LOCAL_KEY_FILE} is"
            )
        if args.batch_size < 1:
            parser.error("--batch-size must be at least 1")
        if args.new_local_keys:
            if settings.pii_keys:
                parser.error("keys come from PII_KEYS: add the new ones there")
            pii, blind = add_local_keys(settings.data_dir)
            _report({"pii_active_key": pii, "blind_index_active_key": blind})
            return
        code = asyncio.run(_rotate(settings, encrypted, args.check, args.batch_size))
        sys.exit(code)


async def _with_engine(settings: ServiceSettings, step: Callable[..., object]) -> None:
    engine = make_engine(settings.resolved_database_url)
    try:
        await step(engine)  # type: ignore[misc]
    finally:
        await engine.dispose()


async def _own(
    settings: ServiceSettings, command: Command, args: argparse.Namespace
) -> int:
    engine = make_engine(settings.resolved_database_url)
    try:
        _report(await command.run(engine, args))
    except Exception as exc:  # reported as JSON like any other outcome
        detail = getattr(exc, "detail", None) or str(exc)
        errors = getattr(exc, "errors", None)
        _report(
            {
                "error": type(exc).__name__,
                "detail": str(detail).splitlines()[0][:300] if detail else "",
                **({"errors": [e.model_dump() for e in errors]} if errors else {}),
            }
        )
        return 1
    finally:
        await engine.dispose()
    return 0


async def _rotate(
    settings: ServiceSettings,
    encrypted: Sequence[Registered],
    check_only: bool,
    batch_size: int,
) -> int:
    keyring = keyring_from(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        summary = await rotate_keys(
            engine, keyring, encrypted, check_only=check_only, batch_size=batch_size
        )
    except Exception as exc:  # reported as JSON like any other outcome
        first_line = str(exc).splitlines()[0][:300] if str(exc) else ""
        _report({"error": type(exc).__name__, "detail": first_line})
        return 1
    finally:
        await engine.dispose()
    _report({"service": settings.service_name, **summary.as_json()})
    return summary.exit_code


def _report(summary: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()


async def _work(
    settings: ServiceSettings,
    jobs: Sequence[Job],
    make_worker: Callable[..., Worker],
) -> None:
    """Run the worker until a signal stops it. arq's worker stops when its
    Redis connection fails (a Redis restart), so a new one is started once
    Redis answers again: the worker rides out a Redis outage."""
    runtime: Runtime = await start_runtime(
        settings.model_copy(update={"auto_migrate": False}), jobs=jobs
    )
    try:
        while True:
            worker = make_worker(runtime, handle_signals=True)
            try:
                await worker.async_run()
                return
            except REDIS_LOST as exc:
                log.warning("worker_redis_lost", error=repr(exc))
            finally:
                with contextlib.suppress(*REDIS_LOST):  # nothing to tidy in Redis
                    await worker.close()
            await asyncio.sleep(RECONNECT_SECONDS)
    finally:
        await runtime.close()
