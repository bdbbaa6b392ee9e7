"""The jobs of the reporting service, declared once for the arq worker
(``python -m services.reporting worker``) and the in-process queue: ingestion
from the queue, the feed pull every few seconds, exports. Short timeouts: a
killed batch is re-delivered or pulled again."""

from __future__ import annotations

from services.reporting.db import IdempotencyRecord
from services.reporting.exports.jobs import run_export
from services.reporting.ingest.jobs import ingest_events, pull_feeds
from shared.contracts.ingest import REPORTING_QUEUE
from shared.idempotency import make_purge_job
from shared.queue import Job, Schedule
from shared.worker import make_worker_factory

QUEUE_NAME = REPORTING_QUEUE
PULL_EVERY_SECONDS = 5
JOBS = (
    Job(ingest_events, max_tries=20),
    Job(
        pull_feeds,
        timeout_seconds=120,
        schedule=Schedule(second=range(0, 60, PULL_EVERY_SECONDS), run_at_startup=True),
    ),
    Job(run_export, timeout_seconds=1800, max_tries=3),
    Job(
        make_purge_job(IdempotencyRecord),
        schedule=Schedule(minute={17}, second={0}),
    ),
)
make_worker = make_worker_factory(QUEUE_NAME, JOBS)
