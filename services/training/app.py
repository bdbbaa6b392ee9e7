"""The training service. Its domain (courses, cohorts, ToT cascades,
supervised practice, fidelity review) is built in its own issue; until then it
runs the platform's common surface: auth, health, readiness, metrics."""

from __future__ import annotations

from fastapi import FastAPI

from services.training.settings import TrainingSettings
from shared.app import create_service_app
from shared.queue import JobQueue


def create_app(
    settings: TrainingSettings | None = None, *, queue: JobQueue | None = None
) -> FastAPI:
    return create_service_app(
        settings or TrainingSettings(),
        title="MHPSS training service",
        description="Courses, training cohorts, ToT cascades, supervised "
        "practice and fidelity review.",
        routers=[],
        queue=queue,
    )
