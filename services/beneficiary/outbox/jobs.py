"""Jobs of the outbox and housekeeping: feed positions, old idempotency keys."""

from __future__ import annotations

from services.beneficiary.db import IdempotencyRecord, OutboxCounter, OutboxEvent
from services.beneficiary.subject_rights.jobs import send_erasures_to_training
from shared.app import Runtime
from shared.idempotency import make_purge_job
from shared.outbox import announce_writes, last_position, make_publish_job
from shared.queue import JobContext

__all__ = ["announce_writes", "publish_outbox", "purge_idempotency_keys"]


_publish_outbox = make_publish_job(OutboxEvent, OutboxCounter)
purge_idempotency_keys = make_purge_job(IdempotencyRecord)


async def publish_outbox(ctx: JobContext) -> int:
    """Sequence committed events and send them to reporting's queue, then
    send the erasures among them to training's queue."""
    runtime: Runtime = ctx["runtime"]
    before = await last_position(runtime.engine, OutboxCounter)
    sequenced = await _publish_outbox(ctx)
    if sequenced:
        await send_erasures_to_training(runtime, after=before)
    return sequenced
