"""Each job is declared once (``worker.JOBS``) and both runners read it: the
arq worker's functions and crons, and the in-process queue's loops."""

from __future__ import annotations

import pytest

from services.beneficiary import worker as beneficiary
from services.reporting import worker as reporting
from services.training import worker as training
from shared.contracts.erasure import FORGET_BENEFICIARY_JOB, TRAINING_QUEUE
from shared.contracts.ingest import INGEST_JOB, REPORTING_QUEUE
from shared.outbox import PUBLISH_OUTBOX_JOB
from shared.queue import Job, Schedule
from shared.settings import ServiceSettings
from shared.worker import build_worker

SERVICES = {"beneficiary": beneficiary, "reporting": reporting, "training": training}


def names(jobs: tuple[Job, ...]) -> list[str]:
    return [job.name for job in jobs]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_declares_each_job_once(service: str) -> None:
    declared = names(SERVICES[service].JOBS)
    assert len(declared) == len(set(declared))


def test_jobs_other_services_enqueue_by_name_are_declared_where_they_run() -> None:
    assert reporting.QUEUE_NAME == REPORTING_QUEUE
    assert INGEST_JOB in names(reporting.JOBS)
    assert training.QUEUE_NAME == TRAINING_QUEUE
    assert FORGET_BENEFICIARY_JOB in names(training.JOBS)
    for producer in (beneficiary, training):
        assert PUBLISH_OUTBOX_JOB in names(producer.JOBS)


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [
        (Schedule(second={7}), 60),
        (Schedule(second=range(0, 60, 5)), 5),
        (Schedule(second=range(60)), 1),
        (Schedule(minute={17}, second={0}), 3600),
        (Schedule(hour={2}, minute={30}, second={0}), 24 * 3600),
    ],
)
def test_the_in_process_period_follows_from_the_cron_fields(
    schedule: Schedule, seconds: float
) -> None:
    assert schedule.period_seconds == seconds


@pytest.mark.parametrize("service", SERVICES)
async def test_the_worker_runs_what_is_declared(service: str) -> None:
    """Functions, timeouts, tries and crons as declared (arq's own objects)."""
    module = SERVICES[service]

    class Runtime:  # all build_worker reads of the runtime
        settings = ServiceSettings(redis_url="redis://127.0.0.1:6379/0")

    worker = build_worker(
        Runtime(),  # type: ignore[arg-type]
        queue_name=module.QUEUE_NAME,
        jobs=module.JOBS,
    )
    for job in module.JOBS:
        function = worker.functions[job.name]
        assert function.timeout_s == job.timeout_seconds
        assert function.max_tries == job.max_tries
    crons = {cron.name.removeprefix("cron:"): cron for cron in worker.cron_jobs}
    scheduled = {job.name: job for job in module.JOBS if job.schedule is not None}
    assert crons.keys() == scheduled.keys()
    for name, cron in crons.items():
        schedule = scheduled[name].schedule
        assert schedule is not None
        assert cron.second == set(schedule.second)
        assert cron.run_at_startup == schedule.run_at_startup
