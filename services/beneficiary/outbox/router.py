"""The beneficiary service's change feed."""

from services.beneficiary.db import OutboxCounter, OutboxEvent
from shared.outbox import feed_router

router = feed_router(source="beneficiary", model=OutboxEvent, counter=OutboxCounter)
