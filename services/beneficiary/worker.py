"""arq worker of the beneficiary service; start it with
``python -m services.beneficiary worker`` (it reads REDIS_URL)."""

from __future__ import annotations

from typing import Any, ClassVar

from arq import cron, func

from services.beneficiary.outbox.jobs import publish_outbox
from services.beneficiary.settings import BeneficiarySettings
from shared.app import Runtime, start_runtime
from shared.queue import JobContext, deserialize_job, serialize_job

JOB_FUNCTIONS = [publish_outbox]


async def startup(ctx: JobContext) -> None:
    settings = BeneficiarySettings(auto_migrate=False)
    ctx["runtime"] = await start_runtime(settings, job_functions=JOB_FUNCTIONS)


async def shutdown(ctx: JobContext) -> None:
    runtime: Runtime = ctx["runtime"]
    await runtime.close()


class WorkerSettings:
    queue_name = "beneficiary"
    functions: ClassVar[list[Any]] = [func(publish_outbox, keep_result=0, timeout=60)]
    cron_jobs: ClassVar[list[Any]] = [
        cron(
            publish_outbox,
            second=set(range(60)),
            unique=True,
            keep_result=0,
            timeout=60,
        )
    ]
    on_startup = startup
    on_shutdown = shutdown
    job_serializer = staticmethod(serialize_job)
    job_deserializer = staticmethod(deserialize_job)
    max_jobs = 10
    job_timeout = 60
