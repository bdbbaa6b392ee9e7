"""The jobs of the training service, declared once for the arq worker
(``python -m services.training worker``) and the in-process queue."""

from __future__ import annotations

from services.training.outbox.jobs import publish_outbox, purge_idempotency_keys
from services.training.practice.jobs import (
    forget_beneficiary,
    pull_beneficiary_erasures,
)
from shared.queue import Job, Schedule
from shared.worker import OUTBOX_SCHEDULE, make_worker_factory

QUEUE_NAME = "training"
JOBS = (
    Job(publish_outbox, schedule=OUTBOX_SCHEDULE),
    Job(forget_beneficiary, max_tries=20),
    Job(
        pull_beneficiary_erasures,
        timeout_seconds=120,
        schedule=Schedule(second={41}, run_at_startup=True),
    ),
    Job(purge_idempotency_keys, schedule=Schedule(minute={17}, second={0})),
)
make_worker = make_worker_factory(QUEUE_NAME, JOBS)
