"""The reporting service. Its read model, indicator catalogue and feeds are
built in its own issue; until then it runs the platform's common surface:
auth, health, readiness, metrics."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting.settings import ReportingSettings
from shared.app import create_service_app
from shared.queue import JobQueue


def create_app(
    settings: ReportingSettings | None = None, *, queue: JobQueue | None = None
) -> FastAPI:
    return create_service_app(
        settings or ReportingSettings(),
        title="MHPSS reporting service",
        description="Indicators, reports and integrator feeds, from events.",
        routers=[],
        queue=queue,
    )
