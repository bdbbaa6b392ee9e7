"""Every table of the training service, imported once for metadata users."""

from services.training.db import (
    AuditEntry,
    IdempotencyRecord,
    OutboxCounter,
    OutboxEvent,
)

__all__ = ["AuditEntry", "IdempotencyRecord", "OutboxCounter", "OutboxEvent"]
