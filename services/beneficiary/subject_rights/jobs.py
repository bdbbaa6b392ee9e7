"""Erasures reach the training service through its queue: after the outbox
is sequenced, each new ``beneficiary.erased`` event becomes a
``forget_beneficiary`` job there (ids only). Training's own pull of the
change feed makes up for a job lost with Redis."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.beneficiary.db import OutboxEvent
from services.beneficiary.settings import settings_of
from shared.app import Runtime
from shared.contracts.erasure import (
    ERASED_EVENT,
    FORGET_BENEFICIARY_JOB,
    TRAINING_QUEUE,
    forget_job_id,
)
from shared.outbox import read_feed

PAGE = 1000


async def send_erasures_to_training(runtime: Runtime, *, after: int) -> int:
    """Enqueue ``forget_beneficiary`` for every erasure sequenced after
    ``after``; returns how many were sent."""
    settings = settings_of(runtime)
    if not settings.training_url:
        return 0
    sent = 0
    while True:
        async with AsyncSession(runtime.engine) as session:
            events = await read_feed(
                session,
                OutboxEvent,
                source=settings.service_name,
                after=after,
                limit=PAGE,
                types=[ERASED_EVENT],
            )
        for event in events:
            await runtime.queue.enqueue(
                FORGET_BENEFICIARY_JOB,
                job_id=forget_job_id(event.id),
                queue_name=TRAINING_QUEUE,
                beneficiary_id=str(event.data["beneficiary_id"]),
                organisation_id=str(event.data["organisation_id"]),
            )
        sent += len(events)
        if len(events) < PAGE:
            return sent
        after = events[-1].position
