"""The operations commands every service has:

python -m services.<name> migrate                    # schema to head (+ reference data)
python -m services.<name> worker                     # arq worker (needs REDIS_URL)
python -m services.<name> new-migration -m "message" # developers
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence

from arq.worker import Worker

from shared.app import Runtime, start_runtime
from shared.db import make_engine
from shared.migrations import Migrations
from shared.observability import configure_logging
from shared.queue import JobFunction
from shared.settings import ServiceSettings


def run_service_cli(
    *,
    prog: str,
    settings: ServiceSettings,
    migrations: Migrations,
    job_functions: Sequence[JobFunction] = (),
    make_worker: Callable[..., Worker] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=prog)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database to head")
    if make_worker is not None:
        sub.add_parser("worker", help="run the arq worker")
    revision = sub.add_parser("new-migration", help="autogenerate a migration")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args()
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
        asyncio.run(_work(settings, job_functions, make_worker))


async def _with_engine(settings: ServiceSettings, step: Callable[..., object]) -> None:
    engine = make_engine(settings.resolved_database_url)
    try:
        await step(engine)  # type: ignore[misc]
    finally:
        await engine.dispose()


async def _work(
    settings: ServiceSettings,
    job_functions: Sequence[JobFunction],
    make_worker: Callable[..., Worker],
) -> None:
    runtime: Runtime = await start_runtime(
        settings.model_copy(update={"auto_migrate": False}), job_functions=job_functions
    )
    worker = make_worker(runtime, handle_signals=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()
        await runtime.close()
