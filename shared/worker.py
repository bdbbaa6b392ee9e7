"""The one way to build a service's arq worker: the app's runtime as job
context, JSON payloads, each job in its enqueuer's request id and trace, and
the outbox sequenced every second."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, TypeVar

from arq import cron
from arq.cron import CronJob
from arq.worker import Function, Worker, func

from shared.app import Runtime
from shared.queue import (
    ORIGIN_KEY,
    JobFunction,
    deserialize_job,
    job_context,
    redis_settings,
    serialize_job,
)

Job = TypeVar("Job", Function, CronJob)


def every_second(job: JobFunction) -> CronJob:
    """publish_outbox's schedule: events are sequenced even when an enqueue
    was lost with Redis."""
    return cron(
        job,  # type: ignore[arg-type]
        second=set(range(60)),
        unique=True,
        keep_result=0,
        timeout=60,
        run_at_startup=True,
    )


def build_worker(
    runtime: Runtime,
    *,
    queue_name: str,
    functions: Sequence[Function],
    cron_jobs: Sequence[CronJob],
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
            capped(in_origin_context(func(f), queue_name), cap) for f in functions
        ],
        cron_jobs=None
        if burst
        else [capped(in_origin_context(job, queue_name), cap) for job in cron_jobs],
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


def capped(job: Job, seconds: float | None) -> Job:
    """The job with its timeout cut to ``seconds`` (JOB_TIMEOUT_SECONDS): arq
    retries a job whose worker died only once the worker's longest timeout
    (plus 10 s) has passed."""
    if seconds is None or (job.timeout_s is not None and job.timeout_s <= seconds):
        return job
    return dataclasses.replace(job, timeout_s=seconds)


def in_origin_context(job: Job, queue_name: str) -> Job:
    """The job with its ``_origin`` argument taken off and applied
    (``shared.queue.job_context``), as the inline queue does."""
    coroutine = job.coroutine
    name = coroutine.__qualname__  # as arq names it

    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        with job_context(queue_name, name, kwargs.pop(ORIGIN_KEY, None)):
            return await coroutine(ctx, *args, **kwargs)

    return dataclasses.replace(job, coroutine=run)
