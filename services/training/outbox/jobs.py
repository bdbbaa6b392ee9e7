"""The training service's outbox job."""

from services.training.db import OutboxCounter, OutboxEvent
from shared.outbox import make_publish_job

publish_outbox = make_publish_job(OutboxEvent, OutboxCounter)
