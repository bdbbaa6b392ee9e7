"""The training service's outbox job."""

from services.training.db import OutboxCounter, OutboxEvent
from shared.app import Runtime
from shared.outbox import make_publish_job

publish_outbox = make_publish_job(OutboxEvent, OutboxCounter)


async def announce_writes(runtime: Runtime) -> None:
    """Called after a commit that added events; repeated calls coalesce."""
    await runtime.queue.enqueue("publish_outbox", job_id="training:publish_outbox")
