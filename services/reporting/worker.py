"""The arq worker of the reporting service (``python -m services.reporting
worker``): ingestion from the queue, the feed pull every few seconds, exports."""

from __future__ import annotations

from arq import cron, func
from arq.worker import Worker

from services.reporting.db import IdempotencyRecord
from services.reporting.exports.jobs import run_export
from services.reporting.ingest.jobs import ingest_events, pull_feeds
from shared.app import Runtime
from shared.contracts.ingest import REPORTING_QUEUE
from shared.idempotency import make_purge_job
from shared.queue import JobFunction
from shared.worker import build_worker

QUEUE_NAME = REPORTING_QUEUE
purge_idempotency_keys = make_purge_job(IdempotencyRecord)
JOB_FUNCTIONS: list[JobFunction] = [
    ingest_events,
    pull_feeds,
    run_export,
    purge_idempotency_keys,
]
PULL_SECONDS = 5.0
PERIODIC_JOBS: list[tuple[JobFunction, float]] = [
    (pull_feeds, PULL_SECONDS),
    (purge_idempotency_keys, 3600.0),
]


def make_worker(
    runtime: Runtime, *, burst: bool = False, handle_signals: bool = False
) -> Worker:
    return build_worker(
        runtime,
        queue_name=QUEUE_NAME,
        functions=[
            # short timeouts: a killed batch is re-delivered or pulled again
            func(ingest_events, keep_result=0, timeout=60, max_tries=20),
            func(pull_feeds, keep_result=0, timeout=120),
            func(run_export, keep_result=0, timeout=1800, max_tries=3),
            func(purge_idempotency_keys, keep_result=0, timeout=60),
        ],
        cron_jobs=[
            cron(
                pull_feeds,
                second=set(range(0, 60, int(PULL_SECONDS))),
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
