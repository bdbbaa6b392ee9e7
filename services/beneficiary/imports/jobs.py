"""The import job: runs an import for at most ``IMPORT_SLICE_SECONDS``, then
queues the rest as a new job (the worker's longest timeout is how long arq
leaves a dead worker's job). Each batch commits with its progress, so a job
killed anywhere is resumed by the next run from the last commit."""

from __future__ import annotations

import time
import uuid

from services.beneficiary.imports import service as imports_service
from services.beneficiary.imports.models import ImportStatus
from services.beneficiary.settings import BeneficiarySettings, settings_of
from shared.app import Runtime
from shared.queue import JobContext

IMPORT_SLICE_SECONDS = 40.0


def run_settings(settings: BeneficiarySettings) -> imports_service.RunSettings:
    return imports_service.RunSettings(
        batch_rows=settings.import_batch_rows,
        kobo_timeout_seconds=settings.import_kobo_timeout_seconds,
        kobo_tries=settings.import_kobo_tries,
        kobo_backoff_seconds=settings.import_kobo_backoff_seconds,
    )


async def run_import(ctx: JobContext, *, import_id: str) -> str | None:
    """Go on with an import from where its last batch committed."""
    runtime: Runtime = ctx["runtime"]
    status = await imports_service.run_import(
        runtime.engine,
        runtime.keyring,
        runtime.queue,
        runtime.http,
        run_settings(settings_of(runtime)),
        uuid.UUID(import_id),
        deadline=time.monotonic() + IMPORT_SLICE_SECONDS,
    )
    if status == ImportStatus.running:
        await runtime.queue.enqueue(
            run_import.__name__,
            job_id=f"run_import:{import_id}:{time.time_ns()}",
            import_id=import_id,
        )
    return status


STALLED_AFTER_SECONDS = 2 * IMPORT_SLICE_SECONDS + 30


async def resume_imports(ctx: JobContext) -> int:
    """Queue again every import whose progress stopped moving (its job lost
    with Redis, or its worker killed): the database, not the queue, knows
    what is left. A second run of one import waits on the first's lock and
    applies no batch twice."""
    runtime: Runtime = ctx["runtime"]
    stalled = await imports_service.stalled_imports(
        runtime.engine, STALLED_AFTER_SECONDS
    )
    for import_id, updated_at in stalled:
        await runtime.queue.enqueue(
            run_import.__name__,
            job_id=f"run_import:{import_id}:stalled:{updated_at.isoformat()}",
            import_id=str(import_id),
        )
    return len(stalled)
