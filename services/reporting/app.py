"""The reporting service: the platform's read side. It folds the producers'
events into facts (never PII) and answers indicators, the programme overview,
exports and integrator feeds from them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI

from services.reporting.access.router import router as api_keys_router
from services.reporting.dashboard.router import router as dashboard_router
from services.reporting.exports.router import router as exports_router
from services.reporting.facts.models import FeedCursor
from services.reporting.indicators.router import router as indicators_router
from services.reporting.indicators.service import store_of
from services.reporting.migrations.runner import MIGRATIONS
from services.reporting.overview.router import router as overview_router
from services.reporting.projects.router import router as projects_router
from services.reporting.settings import ReportingSettings
from services.reporting.worker import JOBS, QUEUE_NAME
from shared.app import create_service_app
from shared.ops_metrics import feed_cursor_probe, queue_probe
from shared.queue import JobQueue

log = structlog.get_logger(__name__)


async def check_snapshots(app: FastAPI, every_seconds: float) -> None:
    """Every ``every_seconds``, with or without requests, the store's check
    that no snapshot on disk predates the last erasure (an idle process
    would otherwise never refresh, and the old files would stay)."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await store_of(app).check_snapshot()
        except Exception:
            log.exception("reporting_snapshot_check_failed")


def create_app(
    settings: ReportingSettings | None = None, *, queue: JobQueue | None = None
) -> FastAPI:
    settings = settings or ReportingSettings()
    app = create_service_app(
        settings,
        title="MHPSS reporting service",
        description="Indicators, the programme overview, exports and integrator "
        "feeds, from the producers' events; no PII.",
        routers=[
            indicators_router,
            overview_router,
            exports_router,
            api_keys_router,
            projects_router,
            dashboard_router,
        ],
        jobs=JOBS,
        migrate=MIGRATIONS.upgrade,
        queue=queue,
        probes={
            "queue": queue_probe([QUEUE_NAME]),
            "feeds": feed_cursor_probe(FeedCursor),
        },
    )
    snapshots = settings.snapshots
    if snapshots is None:
        return app
    started = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with started(application):
            checking = asyncio.create_task(
                check_snapshots(application, snapshots.check_seconds)
            )
            try:
                yield
            finally:
                checking.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await checking

    app.router.lifespan_context = lifespan
    return app
