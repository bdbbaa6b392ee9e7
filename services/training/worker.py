"""The arq worker of the training service (``python -m services.training worker``)."""

from __future__ import annotations

from arq import cron, func
from arq.worker import Worker

from services.training.outbox.jobs import publish_outbox
from shared.app import Runtime
from shared.queue import JobFunction, deserialize_job, redis_settings, serialize_job

QUEUE_NAME = "training"
JOB_FUNCTIONS: list[JobFunction] = [publish_outbox]


def make_worker(
    runtime: Runtime, *, burst: bool = False, handle_signals: bool = False
) -> Worker:
    assert runtime.settings.redis_url, "the worker needs REDIS_URL"
    return Worker(
        functions=[func(publish_outbox, keep_result=0, timeout=60)],
        cron_jobs=None
        if burst
        else [
            cron(
                publish_outbox,
                second=set(range(60)),
                unique=True,
                keep_result=0,
                timeout=60,
                run_at_startup=True,
            )
        ],
        redis_settings=redis_settings(runtime.settings.redis_url),
        queue_name=QUEUE_NAME,
        ctx={"runtime": runtime},
        burst=burst,
        poll_delay=0.1 if burst else 0.5,
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
        handle_signals=handle_signals,
    )
