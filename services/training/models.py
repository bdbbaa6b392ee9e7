"""Every table of the training service, imported once for metadata users."""

from services.training.courses.models import Course
from services.training.db import (
    AuditEntry,
    IdempotencyRecord,
    OutboxCounter,
    OutboxEvent,
)
from services.training.trainees.models import Trainee

__all__ = [
    "AuditEntry",
    "Course",
    "IdempotencyRecord",
    "OutboxCounter",
    "OutboxEvent",
    "Trainee",
]
