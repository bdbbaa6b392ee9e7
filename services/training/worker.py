"""The arq worker of the training service (``python -m services.training worker``)."""

from __future__ import annotations

from arq import cron, func
from arq.worker import Worker

from services.training.outbox.jobs import publish_outbox, purge_idempotency_keys
from services.training.practice.jobs import (
    forget_beneficiary,
    pull_beneficiary_erasures,
)
from shared.app import Runtime
from shared.queue import JobFunction
from shared.worker import build_worker, every_second

QUEUE_NAME = "training"
PERIODIC_JOBS: list[tuple[JobFunction, float]] = [
    (pull_beneficiary_erasures, 60.0),
    (purge_idempotency_keys, 3600.0),
]
JOB_FUNCTIONS: list[JobFunction] = [
    publish_outbox,
    forget_beneficiary,
    pull_beneficiary_erasures,
    purge_idempotency_keys,
]


def make_worker(
    runtime: Runtime, *, burst: bool = False, handle_signals: bool = False
) -> Worker:
    return build_worker(
        runtime,
        queue_name=QUEUE_NAME,
        functions=[
            func(publish_outbox, keep_result=0, timeout=60),
            func(forget_beneficiary, keep_result=0, timeout=60, max_tries=20),
            func(pull_beneficiary_erasures, keep_result=0, timeout=120),
            func(purge_idempotency_keys, keep_result=0, timeout=60),
        ],
        cron_jobs=[
            every_second(publish_outbox),
            cron(
                pull_beneficiary_erasures,
                second={41},
                unique=True,
                keep_result=0,
                timeout=120,
                run_at_startup=True,
            ),
            cron(
                purge_idempotency_keys,
                minute={17},
                second={0},
                unique=True,
                keep_result=0,
                timeout=60,
            ),
        ],
        burst=burst,
        handle_signals=handle_signals,
    )
