"""The training service's outbox job and its trigger."""

from services.training.db import OutboxCounter, OutboxEvent
from shared.outbox import announce_writes, make_publish_job

publish_outbox = make_publish_job(OutboxEvent, OutboxCounter)

__all__ = ["announce_writes", "publish_outbox"]
