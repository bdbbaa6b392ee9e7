"""The training service's change feed."""

from services.training.db import OutboxCounter, OutboxEvent
from shared.outbox import feed_router

router = feed_router(source="training", model=OutboxEvent, counter=OutboxCounter)
