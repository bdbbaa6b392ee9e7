"""The jobs of the beneficiary service, declared once: the arq worker
(``python -m services.beneficiary worker``) and the embedded stack's
in-process queue both read ``JOBS``.

No job here may run longer than 60 s: arq leaves a dead worker's job (a risk
alert's delivery too) until the longest timeout of its worker has passed.
Retention works in slices that queue the rest. Deliveries count their
attempts in the database; arq only schedules them."""

from __future__ import annotations

from services.beneficiary.outbox.jobs import publish_outbox, purge_idempotency_keys
from services.beneficiary.protection.notices.jobs import (
    deliver_protection_notice,
    redeliver_protection_notices,
)
from services.beneficiary.protection.retention.service import apply_retention
from services.beneficiary.risk.jobs import deliver_risk_alert, redeliver_risk_alerts
from shared.queue import Job, Schedule
from shared.worker import OUTBOX_SCHEDULE, make_worker_factory

QUEUE_NAME = "beneficiary"
JOBS = (
    Job(publish_outbox, schedule=OUTBOX_SCHEDULE),
    Job(deliver_risk_alert, timeout_seconds=30, max_tries=100),
    Job(
        redeliver_risk_alerts,
        schedule=Schedule(second={7}, run_at_startup=True),
    ),
    Job(purge_idempotency_keys, schedule=Schedule(minute={17}, second={0})),
    Job(deliver_protection_notice, timeout_seconds=30, max_tries=100),
    Job(redeliver_protection_notices, schedule=Schedule(second={37})),
    # daily, at a quiet hour (UTC)
    Job(apply_retention, schedule=Schedule(hour={2}, minute={30}, second={0})),
)
make_worker = make_worker_factory(QUEUE_NAME, JOBS)
