"""Jobs of the outbox and housekeeping: feed positions, old idempotency keys."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.db import IdempotencyRecord, OutboxCounter, OutboxEvent
from shared.app import Runtime
from shared.db import utcnow
from shared.outbox import announce_writes, make_publish_job
from shared.queue import JobContext

IDEMPOTENCY_KEEP = timedelta(days=7)
__all__ = ["announce_writes", "publish_outbox", "purge_idempotency_keys"]


publish_outbox = make_publish_job(OutboxEvent, OutboxCounter)


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
