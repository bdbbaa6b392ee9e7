"""Operations commands of the beneficiary service.

python -m services.beneficiary migrate          # schema to head + reference data
python -m services.beneficiary worker           # arq worker (needs REDIS_URL)
python -m services.beneficiary new-migration -m "message"   # developers
"""

from __future__ import annotations

import argparse
import asyncio

from alembic import command
from sqlalchemy.engine import Connection

from services.beneficiary.migrations.runner import (
    alembic_config,
    upgrade_schema,
    upgrade_to_head,
)
from services.beneficiary.settings import BeneficiarySettings
from services.beneficiary.worker import JOB_FUNCTIONS, make_worker
from shared.app import start_runtime
from shared.db import make_engine
from shared.observability import configure_logging


async def _migrate(settings: BeneficiarySettings) -> None:
    engine = make_engine(settings.resolved_database_url)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


async def _new_migration(settings: BeneficiarySettings, message: str) -> None:
    engine = make_engine(settings.resolved_database_url)

    def revise(connection: Connection) -> None:
        command.revision(alembic_config(connection), message=message, autogenerate=True)

    try:
        await upgrade_schema(engine)
        async with engine.begin() as connection:
            await connection.run_sync(revise)
    finally:
        await engine.dispose()


async def _work(settings: BeneficiarySettings) -> None:
    runtime = await start_runtime(settings, job_functions=JOB_FUNCTIONS)
    worker = make_worker(runtime, handle_signals=True)
    try:
        await worker.async_run()
    finally:
        await worker.close()
        await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.beneficiary")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database to head")
    sub.add_parser("worker", help="run the arq worker")
    revision = sub.add_parser("new-migration", help="autogenerate a migration")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args()
    settings = BeneficiarySettings()
    configure_logging(settings.log_level)
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
    elif args.command == "new-migration":
        asyncio.run(_new_migration(settings, args.message))
    elif args.command == "worker":
        if not settings.redis_url:
            parser.error("the worker needs REDIS_URL (or BENEFICIARY_REDIS_URL)")
        asyncio.run(_work(settings.model_copy(update={"auto_migrate": False})))


if __name__ == "__main__":
    main()
