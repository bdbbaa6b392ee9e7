"""``python -m services.beneficiary import``: an import run in this process,
with a one-line progress on stderr, for files too large to send over HTTP.
It acts for the organisation as an administrator (whoever runs it holds the
database and the keys already), and goes through the same job as the API:
a run killed anywhere resumes with ``--resume ID``, or by the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import getpass
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.beneficiary.imports import service as imports_service
from services.beneficiary.imports.jobs import run_settings
from services.beneficiary.imports.models import ImportJob
from services.beneficiary.imports.schemas import (
    ImportCreate,
    ImportFile,
    ImportMappingCreate,
    KoboSource,
)
from services.beneficiary.organisations.models import Organisation
from services.beneficiary.settings import BeneficiarySettings
from shared.app import freeze_startup_objects
from shared.auth import Principal, Role
from shared.crypto import keyring_from
from shared.db import make_engine
from shared.errors import NotFound, Problem
from shared.http import make_client
from shared.queue import ArqQueue, JobQueue

KOBO_TOKEN_ENV = "KOBO_TOKEN"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m services.beneficiary import",
        description="Import a CSV/XLSX export (KoboToolbox, ODK Central, a "
        "spreadsheet) or pull a KoboToolbox form, with a mapping.",
    )
    p.add_argument("file", nargs="?", type=Path, help="a .csv or .xlsx export")
    p.add_argument("--organisation", type=uuid.UUID, help="the organisation's id")
    p.add_argument(
        "--mapping", type=Path, help="a mapping file (JSON: name, spec), stored"
    )
    p.add_argument("--mapping-id", type=uuid.UUID, help="a stored mapping's id")
    p.add_argument("--kobo-server", help=f"pull from Kobo (token in ${KOBO_TOKEN_ENV})")
    p.add_argument("--kobo-asset", help="the form's asset uid")
    p.add_argument("--dry-run", action="store_true", help="report; write nothing")
    p.add_argument("--resume", type=uuid.UUID, help="go on with this import")
    p.add_argument("--as", dest="subject", default=f"cli:{getpass.getuser()}")
    return p


def main(argv: list[str], settings: BeneficiarySettings) -> int:
    args = parser().parse_args(argv)
    if args.resume is None:
        if args.organisation is None or (args.mapping is None) == (
            args.mapping_id is None
        ):
            parser().error("give --organisation and one of --mapping, --mapping-id")
        if (args.file is None) == (args.kobo_server is None):
            parser().error("give a file or --kobo-server with --kobo-asset")
    # the command never starts a runtime (which freezes for the API and the
    # worker): without this every full collection walks the modules again
    freeze_startup_objects()
    return asyncio.run(_run(settings, args))


async def _run(settings: BeneficiarySettings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.resolved_database_url)
    keyring = keyring_from(settings)
    queue: JobQueue = (
        await ArqQueue.connect(settings.redis_url, "beneficiary")
        if settings.redis_url
        else _NoQueue()
    )
    http = make_client(
        service="beneficiary", timeout=settings.import_kobo_timeout_seconds
    )
    try:
        import_id = args.resume or await _start(engine, keyring, settings, args)
        status = await imports_service.run_import(
            engine,
            keyring,
            queue,
            http,
            run_settings(settings),
            import_id,
            progress=_Bar(),
        )
        job = await _load(engine, import_id)
    except Problem as problem:
        sys.stderr.write(f"refused: {problem.detail}\n")
        for error in problem.errors:
            sys.stderr.write(f"  {'.'.join(map(str, error.loc))}: {error.msg}\n")
        return 2
    finally:
        await http.aclose()
        await queue.close()
        await engine.dispose()
    sys.stderr.write("\n")
    read = imports_service.read_model(job).model_dump(mode="json")
    sys.stdout.write(json.dumps(read) + "\n")
    if status != "done":
        sys.stderr.write(f"stopped; go on with --resume {import_id}\n")
        return 1
    return 0


async def _start(
    engine: AsyncEngine, keyring: Any, settings: BeneficiarySettings, args: Any
) -> uuid.UUID:
    principal = Principal(
        subject=args.subject,
        organisation_id=args.organisation,
        roles=frozenset({Role.admin}),
    )
    async with AsyncSession(engine) as session, session.begin():
        if await session.get(Organisation, args.organisation) is None:
            raise NotFound(f"No organisation {args.organisation}.")
        mapping_id = args.mapping_id
        if args.mapping is not None:
            mapping = ImportMappingCreate.model_validate(
                json.loads(args.mapping.read_text())
            )
            mapping_id = (
                await imports_service.create_mapping(session, principal, mapping)
            ).id
        if args.file is not None:
            source: dict[str, Any] = {
                "file": ImportFile(
                    name=args.file.name,
                    format="xlsx" if args.file.suffix.lower() == ".xlsx" else "csv",
                    content_base64=base64.b64encode(args.file.read_bytes()).decode(),
                )
            }
        else:
            source = {
                "kobo": KoboSource(
                    server=args.kobo_server,
                    asset_uid=args.kobo_asset or "",
                    token=os.environ.get(KOBO_TOKEN_ENV, ""),
                )
            }
        job = await imports_service.start_import(
            session,
            principal,
            keyring,
            ImportCreate(mapping_id=mapping_id, dry_run=args.dry_run, **source),
            settings.import_kobo_servers,
            imports_service.file_limits(settings),
        )
        sys.stderr.write(f"import {job.id}\n")
        return job.id


async def _load(engine: AsyncEngine, import_id: uuid.UUID) -> ImportJob:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        job = await session.get(
            ImportJob, import_id, options=imports_service.WITHOUT_SOURCE
        )
        if job is None:
            raise NotFound(f"No import {import_id}.")
        return job


class _Bar:
    """``rows done/total · refused · rows/s · time left`` on one line."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, job: ImportJob) -> None:
        read = imports_service.read_model(job)
        total = f"/{read.total}" if read.total is not None else ""
        share = f" {100 * read.done // read.total:3d}%" if read.total else ""
        left = f" · {_duration(read.seconds_left)} left" if read.seconds_left else ""
        rate = f" · {read.rows_per_second:.0f} rows/s" if read.rows_per_second else ""
        sys.stderr.write(
            f"\r{share} {read.done}{total} rows · {read.refused} refused{rate}{left}   "
        )
        sys.stderr.flush()


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


class _NoQueue:
    """No Redis (the embedded default): the outbox publisher's own schedule
    picks up the imported records' events."""

    async def enqueue(self, function: str, **kwargs: Any) -> None:
        return None

    async def close(self) -> None:
        return None
