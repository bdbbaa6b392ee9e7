"""The arq worker of the training service (``python -m services.training worker``)."""

from __future__ import annotations

from arq import func
from arq.worker import Worker

from services.training.outbox.jobs import publish_outbox
from shared.app import Runtime
from shared.queue import JobFunction
from shared.worker import build_worker, every_second

QUEUE_NAME = "training"
JOB_FUNCTIONS: list[JobFunction] = [publish_outbox]


def make_worker(
    runtime: Runtime, *, burst: bool = False, handle_signals: bool = False
) -> Worker:
    return build_worker(
        runtime,
        queue_name=QUEUE_NAME,
        functions=[func(publish_outbox, keep_result=0, timeout=60)],
        cron_jobs=[every_second(publish_outbox)],
        burst=burst,
        handle_signals=handle_signals,
    )
