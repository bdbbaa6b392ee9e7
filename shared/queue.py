"""The one way to run background jobs: arq on Redis, or the same functions
in-process when no Redis is configured (the embedded default).

Jobs are enqueued by name after the transaction that needs them commits.
Payloads are JSON (never pickles, never PII). Enqueueing never fails a request:
the outbox in the database is the source of truth and periodic jobs catch up.

A job for another service goes onto that service's queue (``queue_name``),
still by name: arq puts it on that queue in Redis; in-process, it is handed to
that service's inline queue when the service runs in this process (the
embedded stack) and dropped otherwise.

A job carries where it came from under the reserved argument ``_origin``: the
request id bound in the enqueuer's log context and, with tracing on, its W3C
trace context. The job runs with that request id in its log lines and its
span a child of the enqueuer's; the job function never sees the argument. A
cron or periodic run gets a request id of its own, which the jobs it enqueues
carry on. A coalesced job (a fixed job id, e.g. ``publish_outbox``) keeps the
origin of its first enqueuer: later ones are dropped with their payload.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import structlog
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import job_key_prefix, result_key_prefix
from arq.worker import Retry

from shared import tracing
from shared.db import json_default

log = structlog.get_logger(__name__)
INLINE_MAX_TRIES = 100  # as the worker's max_tries: jobs decide when to stop
ORIGIN_KEY = "_origin"

JobContext = dict[str, Any]
JobFunction = Callable[..., Awaitable[Any]]
DAY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Schedule:
    """When a periodic job runs: on arq at these cron fields (values in UTC;
    an hour or minute left out means every one); in-process once per
    ``period_seconds``, which follows from them. ``inline=False`` leaves it to
    the worker (publish_outbox: an inline queue cannot lose an enqueue)."""

    second: Collection[int]
    minute: Collection[int] | None = None
    hour: Collection[int] | None = None
    run_at_startup: bool = False
    inline: bool = True

    @property
    def period_seconds(self) -> float:
        """A day when the hour is fixed, an hour when the minute is, else a
        minute over the number of seconds named (evenly spaced)."""
        if self.hour is not None:
            return float(DAY_SECONDS)
        if self.minute is not None:
            return 3600.0
        return 60 / len(self.second)


@dataclass(frozen=True)
class Job:
    """A job declared once, for the arq worker and the in-process queue alike:
    its function (enqueued by ``name``), timeout, tries and schedule."""

    function: JobFunction
    timeout_seconds: float = 60
    max_tries: int | None = None
    schedule: Schedule | None = field(default=None)

    @property
    def name(self) -> str:
        return self.function.__name__


def serialize_job(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data, default=json_default)


def deserialize_job(data: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(data)
    return loaded


def job_origin() -> dict[str, str]:
    """What a job enqueued now carries: the bound request id and, with
    tracing on, the current span's ``traceparent``."""
    origin: dict[str, str] = {}
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id:
        origin["request_id"] = str(request_id)
    tracing.inject(origin)
    return origin


def with_origin(kwargs: dict[str, Any]) -> dict[str, Any]:
    if ORIGIN_KEY in kwargs:
        return kwargs
    origin = job_origin()
    return {**kwargs, ORIGIN_KEY: origin} if origin else kwargs


@contextmanager
def job_context(
    queue_name: str, function: str, origin: Mapping[str, str] | None
) -> Iterator[None]:
    """Run a job in its enqueuer's request id and trace (see the module's
    docstring); ``service`` and ``job`` name it in its log lines."""
    origin = origin or {}
    request_id = origin.get("request_id") or uuid.uuid4().hex
    with (
        structlog.contextvars.bound_contextvars(
            request_id=request_id, service=queue_name, job=function
        ),
        tracing.job_span(queue_name, function, origin),
    ):
        yield


class JobQueue(Protocol):
    async def enqueue(
        self,
        function: str,
        *,
        job_id: str | None = None,
        queue_name: str | None = None,
        **kwargs: Any,
    ) -> None: ...

    async def close(self) -> None: ...


class ArqQueue:
    """Enqueues onto a named arq queue in Redis."""

    def __init__(self, pool: ArqRedis, queue_name: str) -> None:
        self.pool = pool
        self.queue_name = queue_name

    @classmethod
    async def connect(cls, redis_url: str, queue_name: str) -> ArqQueue:
        pool = await create_pool(
            redis_settings(redis_url),
            job_serializer=serialize_job,
            job_deserializer=deserialize_job,
            default_queue_name=queue_name,
        )
        return cls(pool, queue_name)

    async def enqueue(
        self,
        function: str,
        *,
        job_id: str | None = None,
        queue_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Onto ``queue_name`` (another service's queue) or this service's.

        A job with a ``job_id`` still queued (or its result kept) is not
        enqueued again, as arq would refuse it; asked first with one EXISTS
        rather than arq's WATCH, EXISTS and UNWATCH, since a job announced
        on every write is found queued by most of them while writes come
        faster than the worker polls."""
        try:
            if job_id is not None and await self.pool.exists(
                job_key_prefix + job_id, result_key_prefix + job_id
            ):
                return
            await self.pool.enqueue_job(
                function,
                _job_id=job_id,
                _queue_name=queue_name or self.queue_name,
                **with_origin(kwargs),
            )
        except (TimeoutError, OSError) as exc:
            log.warning("enqueue_failed", function=function, error=str(exc))
        except Exception as exc:  # redis errors: the outbox catches up later
            log.warning("enqueue_failed", function=function, error=repr(exc))

    async def close(self) -> None:
        await self.pool.aclose()


_live_inline_queues: dict[str, InlineQueue] = {}  # by name, while open


class InlineQueue:
    """Runs job functions in this process as background tasks.

    Payloads go through JSON exactly as they would through Redis, so a job that
    works inline works on a worker. Each queue is named after its service and
    is live (findable by that name) from creation until ``close``, so a job
    for another service in the same process reaches that service's queue.
    """

    def __init__(self, ctx: JobContext, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self.functions: dict[str, JobFunction] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._periodic: list[asyncio.Task[None]] = []
        self._pending_ids: set[str] = set()
        _live_inline_queues[name] = self

    def register(self, functions: Sequence[JobFunction]) -> None:
        for function in functions:
            self.functions[function.__name__] = function

    async def enqueue(
        self,
        function: str,
        *,
        job_id: str | None = None,
        queue_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Run here, or on the live queue named ``queue_name`` (dropped when
        that service does not run in this process)."""
        if queue_name is not None and queue_name != self.name:
            target = _live_inline_queues.get(queue_name)
            if target is None:
                log.debug("enqueue_dropped", function=function, queue=queue_name)
                return
            await target.enqueue(function, job_id=job_id, **with_origin(kwargs))
            return
        if function not in self.functions:
            log.warning("enqueue_unknown_job", function=function)
            return
        if job_id is not None:
            if job_id in self._pending_ids:
                return
            self._pending_ids.add(job_id)
        payload = json.loads(json.dumps(with_origin(kwargs)))
        task = asyncio.create_task(self._run(function, job_id, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, function: str, job_id: str | None, payload: dict[str, Any]
    ) -> None:
        if job_id is not None:
            self._pending_ids.discard(job_id)
        origin = payload.pop(ORIGIN_KEY, None)
        for _ in range(INLINE_MAX_TRIES):
            try:
                with job_context(self.name, function, origin):
                    await self.functions[function](self.ctx, **payload)
                return
            except Retry as retry:  # as arq would: run again after the delay
                await asyncio.sleep((retry.defer_score or 0) / 1000)
            except Exception:
                log.exception("inline_job_failed", function=function)
                return

    async def drain(self) -> None:
        """Wait for every job enqueued so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop at once: a job cut short here is picked up again by the
        periodic jobs at the next start (the database says what is pending)."""
        if _live_inline_queues.get(self.name) is self:
            del _live_inline_queues[self.name]
        for task in list(self._tasks) + list(self._periodic):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._periodic, return_exceptions=True)

    def run_periodically(self, function: JobFunction, every_seconds: float) -> None:
        """The embedded default's stand-in for the worker's cron jobs; the
        first run is at once."""

        async def loop() -> None:
            while True:
                try:
                    with job_context(self.name, function.__name__, None):
                        await function(self.ctx)
                except Exception:
                    log.exception("periodic_job_failed", function=function.__name__)
                await asyncio.sleep(every_seconds)

        self._periodic.append(asyncio.create_task(loop()))


def defer_job(session: Any, function: str, **kwargs: Any) -> None:
    """Queue a job to send once the session's transaction has committed, so
    no job ever runs for rows that were rolled back."""
    session.info.setdefault("jobs_after_commit", []).append((function, kwargs))


async def send_deferred_jobs(session: Any, queue: JobQueue) -> None:
    """Call after the commit: enqueue what ``defer_job`` collected."""
    for function, kwargs in session.info.pop("jobs_after_commit", []):
        job_id = kwargs.pop("_job_id", None)
        await queue.enqueue(function, job_id=job_id, **kwargs)


def redis_settings(redis_url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(redis_url)
    settings.conn_timeout = 2
    settings.conn_retries = 2
    return settings
