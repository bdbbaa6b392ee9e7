"""The training service's outbox job and its trigger, and the purge of old
idempotency keys."""

from services.training.db import IdempotencyRecord, OutboxCounter, OutboxEvent
from shared.idempotency import make_purge_job
from shared.outbox import announce_writes, make_publish_job

publish_outbox = make_publish_job(OutboxEvent, OutboxCounter)
purge_idempotency_keys = make_purge_job(IdempotencyRecord)

__all__ = ["announce_writes", "publish_outbox", "purge_idempotency_keys"]
