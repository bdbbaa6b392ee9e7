"""The one way to build a service's arq worker: the app's runtime as job
context, JSON payloads, each job in its enqueuer's request id and trace, and
the outbox sequenced every second. Each service declares its jobs once
(``shared.queue.Job``); the in-process queue reads the same declarations."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from arq import cron
from arq.cron import CronJob
from arq.typing import WorkerCoroutine
from arq.worker import Function, Worker, func

from shared.app import Runtime
from shared.queue import (
    ORIGIN_KEY,
    Job,
    Schedule,
    deserialize_job,
    job_context,
    redis_settings,
    serialize_job,
)

ArqJob = TypeVar("ArqJob", Function, CronJob)
OUTBOX_SCHEDULE = Schedule(second=range(60), run_at_startup=True, inline=False)
"""publish_outbox's: every second on the worker, so events are sequenced even
when an enqueue was lost with Redis."""


def make_worker_factory(queue_name: str, jobs: Sequence[Job]) -> Callable[..., Worker]:
    """A service's ``make_worker(runtime, *, burst, handle_signals)``."""

    def make_worker(
        runtime: Runtime, *, burst: bool = False, handle_signals: bool = False
    ) -> Worker:
        return build_worker(
            runtime,
            queue_name=queue_name,
            jobs=jobs,
            burst=burst,
            handle_signals=handle_signals,
        )

    return make_worker


def build_worker(
    runtime: Runtime,
    *,
    queue_name: str,
    jobs: Sequence[Job],
    burst: bool = False,
    handle_signals: bool = False,
) -> Worker:
    """A worker whose jobs share ``runtime`` (engine, keys, queue) with the
    app. Burst mode (tests) drains the queue and stops, so it runs no crons."""
    assert runtime.settings.redis_url, "the worker needs REDIS_URL"
    cap = runtime.settings.job_timeout_seconds
    options: dict[str, Any] = {"max_jobs": 10, "job_timeout": min(60, cap or 60)}
    return Worker(
        functions=[
            capped(in_origin_context(_function(job), queue_name), cap) for job in jobs
        ],
        cron_jobs=None
        if burst
        else [
            capped(in_origin_context(_cron(job, job.schedule), queue_name), cap)
            for job in jobs
            if job.schedule is not None
        ],
        redis_settings=redis_settings(runtime.settings.redis_url),
        queue_name=queue_name,
        ctx={"runtime": runtime},
        burst=burst,
        poll_delay=0.1 if burst else 0.5,
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
        handle_signals=handle_signals,
        **options,
    )


def _function(job: Job) -> Function:
    """Attempts beyond ``max_tries`` are the job's own business (several
    count them in the database); arq only schedules them."""
    return func(
        cast(WorkerCoroutine, job.function),
        keep_result=0,
        timeout=job.timeout_seconds,
        max_tries=job.max_tries,
    )


def _cron(job: Job, schedule: Schedule) -> CronJob:
    return cron(
        cast(WorkerCoroutine, job.function),
        hour=None if schedule.hour is None else set(schedule.hour),
        minute=None if schedule.minute is None else set(schedule.minute),
        second=set(schedule.second),
        unique=True,
        keep_result=0,
        timeout=job.timeout_seconds,
        run_at_startup=schedule.run_at_startup,
    )


def capped(job: ArqJob, seconds: float | None) -> ArqJob:
    """The job with its timeout cut to ``seconds`` (JOB_TIMEOUT_SECONDS): arq
    retries a job whose worker died only once the worker's longest timeout
    (plus 10 s) has passed."""
    if seconds is None or (job.timeout_s is not None and job.timeout_s <= seconds):
        return job
    return dataclasses.replace(job, timeout_s=seconds)


def in_origin_context(job: ArqJob, queue_name: str) -> ArqJob:
    """The job with its ``_origin`` argument taken off and applied
    (``shared.queue.job_context``), as the inline queue does."""
    coroutine = job.coroutine
    name = coroutine.__qualname__  # as arq names it

    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        with job_context(queue_name, name, kwargs.pop(ORIGIN_KEY, None)):
            return await coroutine(ctx, *args, **kwargs)

    return dataclasses.replace(job, coroutine=run)
