"""The reporting service: the platform's read side. It folds the producers'
events into facts (never PII) and answers indicators, the programme overview,
exports and integrator feeds from them."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting.access.router import router as api_keys_router
from services.reporting.dashboard.router import router as dashboard_router
from services.reporting.exports.router import router as exports_router
from services.reporting.facts.models import FeedCursor
from services.reporting.indicators.router import router as indicators_router
from services.reporting.migrations.runner import MIGRATIONS
from services.reporting.overview.router import router as overview_router
from services.reporting.projects.router import router as projects_router
from services.reporting.settings import ReportingSettings
from services.reporting.worker import JOBS, QUEUE_NAME
from shared.app import create_service_app
from shared.ops_metrics import feed_cursor_probe, queue_probe
from shared.queue import JobQueue


def create_app(
    settings: ReportingSettings | None = None, *, queue: JobQueue | None = None
) -> FastAPI:
    return create_service_app(
        settings or ReportingSettings(),
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
