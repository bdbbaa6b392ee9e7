"""The arq worker of the beneficiary service (``python -m services.beneficiary
worker``); the embedded stack runs the same worker in-process when Redis is set."""

from __future__ import annotations

from arq import cron, func
from arq.worker import Worker

from services.beneficiary.outbox.jobs import publish_outbox, purge_idempotency_keys
from services.beneficiary.risk.jobs import deliver_risk_alert, redeliver_risk_alerts
from shared.app import Runtime
from shared.queue import JobFunction, deserialize_job, redis_settings, serialize_job

QUEUE_NAME = "beneficiary"
PERIODIC_JOBS: list[tuple[JobFunction, float]] = [
    (redeliver_risk_alerts, 60.0),
    (purge_idempotency_keys, 3600.0),
]
JOB_FUNCTIONS: list[JobFunction] = [
    publish_outbox,
    deliver_risk_alert,
    redeliver_risk_alerts,
    purge_idempotency_keys,
]


def make_worker(
    runtime: Runtime, *, burst: bool = False, handle_signals: bool = False
) -> Worker:
    """A worker whose jobs share ``runtime`` (engine, keys, queue) with the app.

    publish_outbox also runs every second (not in burst mode, which drains the
    queue and stops), so events are sequenced even when an enqueue was lost."""
    assert runtime.settings.redis_url, "the worker needs REDIS_URL"
    return Worker(
        functions=[
            func(publish_outbox, keep_result=0, timeout=60),
            # attempts are counted in the database; arq only schedules them
            func(deliver_risk_alert, keep_result=0, timeout=30, max_tries=100),
            func(redeliver_risk_alerts, keep_result=0, timeout=60),
            func(purge_idempotency_keys, keep_result=0, timeout=300),
        ],
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
            ),
            cron(
                purge_idempotency_keys,
                minute={17},
                second={0},
                unique=True,
                keep_result=0,
                timeout=300,
            ),
            cron(
                redeliver_risk_alerts,
                second={7},
                unique=True,
                keep_result=0,
                timeout=60,
                run_at_startup=True,
            ),
        ],
        redis_settings=redis_settings(runtime.settings.redis_url),
        queue_name=QUEUE_NAME,
        ctx={"runtime": runtime},
        burst=burst,
        poll_delay=0.1 if burst else 0.5,
        max_jobs=10,
        job_timeout=60,
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
        handle_signals=handle_signals,
    )
