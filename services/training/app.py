"""The training service. Its foundation is in place (own database and
migrations, outbox and change feed, auth, health, metrics); the training
domain (courses, cohorts, ToT cascades, supervised practice, fidelity review)
is built in its own issue."""

from __future__ import annotations

from fastapi import FastAPI

from services.training.cascades.router import router as cascades_router
from services.training.cohorts.router import router as cohorts_router
from services.training.courses.router import router as courses_router
from services.training.db import OutboxEvent
from services.training.feedback.router import router as feedback_router
from services.training.mentoring.router import router as mentoring_router
from services.training.migrations.runner import MIGRATIONS
from services.training.outbox.router import router as outbox_router
from services.training.practice.router import clients_router as practice_clients
from services.training.practice.router import router as practice_router
from services.training.results.router import router as results_router
from services.training.settings import TrainingSettings
from services.training.summary.router import router as summary_router
from services.training.supervision.router import router as supervision_router
from services.training.trainees.router import router as trainees_router
from services.training.worker import JOBS, QUEUE_NAME
from shared.app import create_service_app
from shared.contracts.ingest import REPORTING_QUEUE
from shared.ops_metrics import outbox_probe, queue_probe
from shared.queue import JobQueue


def create_app(
    settings: TrainingSettings | None = None, *, queue: JobQueue | None = None
) -> FastAPI:
    return create_service_app(
        settings or TrainingSettings(),
        title="MHPSS training service",
        description="Courses, training cohorts, ToT cascades, supervised "
        "practice and fidelity review.",
        routers=[
            courses_router,
            trainees_router,
            cohorts_router,
            results_router,
            cascades_router,
            practice_router,
            practice_clients,
            supervision_router,
            feedback_router,
            mentoring_router,
            summary_router,
            outbox_router,
        ],
        jobs=JOBS,
        migrate=MIGRATIONS.upgrade,
        queue=queue,
        probes={
            "queue": queue_probe([QUEUE_NAME, REPORTING_QUEUE]),
            "outbox": outbox_probe(OutboxEvent),
        },
    )
