"""Jobs of the outbox and housekeeping: feed positions, old idempotency keys."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.db import IdempotencyRecord, OutboxCounter, OutboxEvent
from services.beneficiary.subject_rights.jobs import send_erasures_to_training
from shared.app import Runtime
from shared.db import utcnow
from shared.outbox import announce_writes, last_position, make_publish_job
from shared.queue import JobContext

IDEMPOTENCY_KEEP = timedelta(days=7)
__all__ = ["announce_writes", "publish_outbox", "purge_idempotency_keys"]


_publish_outbox = make_publish_job(OutboxEvent, OutboxCounter)


async def publish_outbox(ctx: JobContext) -> int:
    """Sequence committed events and send them to reporting's queue, then
    send the erasures among them to training's queue."""
    runtime: Runtime = ctx["runtime"]
    before = await last_position(runtime.engine, OutboxCounter)
    sequenced = await _publish_outbox(ctx)
    if sequenced:
        await send_erasures_to_training(runtime, after=before)
    return sequenced


async def purge_idempotency_keys(ctx: JobContext) -> int:
    """Forget Idempotency-Keys older than a week: a client retries within
    minutes or days, and the table must not grow for ever."""
    runtime: Runtime = ctx["runtime"]
    cutoff = utcnow() - IDEMPOTENCY_KEEP
    async with AsyncSession(runtime.engine) as session, session.begin():
        result = await session.execute(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < cutoff)
        )
    return int(getattr(result, "rowcount", 0) or 0)
