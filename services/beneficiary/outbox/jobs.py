"""Jobs of the outbox: give committed events their feed positions."""

from __future__ import annotations

from services.beneficiary.db import OutboxCounter, OutboxEvent
from shared.app import Runtime
from shared.outbox import sequence_pending_events
from shared.queue import JobContext

PUBLISH_JOB_ID = "beneficiary:publish_outbox"


async def publish_outbox(ctx: JobContext) -> int:
    """Sequence every committed event that has no feed position yet."""
    runtime: Runtime = ctx["runtime"]
    return await sequence_pending_events(runtime.engine, OutboxEvent, OutboxCounter)


async def announce_writes(runtime: Runtime) -> None:
    """Called after a commit that added events; repeated calls coalesce."""
    await runtime.queue.enqueue("publish_outbox", job_id=PUBLISH_JOB_ID)
