"""The arq worker of the beneficiary service (``python -m services.beneficiary
worker``); the embedded stack runs the same worker in-process when Redis is set."""

from __future__ import annotations

from arq import cron, func
from arq.worker import Worker

from services.beneficiary.outbox.jobs import publish_outbox, purge_idempotency_keys
from services.beneficiary.protection.notices import (
    deliver_protection_notice,
    redeliver_protection_notices,
)
from services.beneficiary.protection.retention import apply_retention
from services.beneficiary.risk.jobs import deliver_risk_alert, redeliver_risk_alerts
from shared.app import Runtime
from shared.queue import JobFunction
from shared.worker import build_worker, every_second

QUEUE_NAME = "beneficiary"
PERIODIC_JOBS: list[tuple[JobFunction, float]] = [
    (redeliver_risk_alerts, 60.0),
    (purge_idempotency_keys, 3600.0),
    (redeliver_protection_notices, 60.0),
    (apply_retention, 24 * 3600.0),
]
JOB_FUNCTIONS: list[JobFunction] = [
    publish_outbox,
    deliver_risk_alert,
    redeliver_risk_alerts,
    purge_idempotency_keys,
    deliver_protection_notice,
    redeliver_protection_notices,
    apply_retention,
]


def make_worker(
    runtime: Runtime, *, burst: bool = False, handle_signals: bool = False
) -> Worker:
    """No job here may run longer than 60 s: arq leaves a dead worker's job
    (a risk alert's delivery too) until the longest timeout of its worker has
    passed. Retention works in slices that queue the rest."""
    return build_worker(
        runtime,
        queue_name=QUEUE_NAME,
        functions=[
            func(publish_outbox, keep_result=0, timeout=60),
            # attempts are counted in the database; arq only schedules them
            func(deliver_risk_alert, keep_result=0, timeout=30, max_tries=100),
            func(redeliver_risk_alerts, keep_result=0, timeout=60),
            func(purge_idempotency_keys, keep_result=0, timeout=60),
            func(deliver_protection_notice, keep_result=0, timeout=30, max_tries=100),
            func(redeliver_protection_notices, keep_result=0, timeout=60),
            func(apply_retention, keep_result=0, timeout=60),
        ],
        cron_jobs=[
            every_second(publish_outbox),
            cron(
                purge_idempotency_keys,
                minute={17},
                second={0},
                unique=True,
                keep_result=0,
                timeout=60,
            ),
            cron(
                redeliver_protection_notices,
                second={37},
                unique=True,
                keep_result=0,
                timeout=60,
            ),
            cron(  # daily, at a quiet hour (UTC)
                apply_retention,
                hour={2},
                minute={30},
                second={0},
                unique=True,
                keep_result=0,
                timeout=60,
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
        burst=burst,
        handle_signals=handle_signals,
    )
