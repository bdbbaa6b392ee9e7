"""Wire models of notices to the data protection focal point."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.beneficiary.protection.notices.models import (
    NoticeDelivery,
)


class NoticeRead(BaseModel):
    """A notice sent to an organisation's data protection contact."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    subject: str
    entity_id: uuid.UUID
    detail: dict[str, Any]
    created_at: datetime
    delivery: NoticeDelivery
    attempts: int
    last_error: str | None
    delivered_at: datetime | None
