"""The ``risk_alert`` table: the signal, who must answer it, its webhook
delivery state (attempts, last error) and its acknowledgement, with the action
taken stored encrypted.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Text
from sqlmodel import Field

from services.beneficiary.db import Table, same_organisation
from shared.contracts.enums import AlertStatus
from shared.db import UTCDateTime, utcnow


class AlertDelivery(StrEnum):
    """Whether the alert reached the supervisor's notification channel."""

    pending = "pending"
    delivered = "delivered"
    dead_letter = "dead_letter"
    not_configured = "not_configured"


class RiskAlert(Table, table=True):
    """A risk signal (``flag``: a risk type of shared/taxonomy/risk_types.csv)
    that stays open until someone acknowledges it with the action taken;
    delivered through a webhook to the case's supervisor and the roles the
    risk type names (``notify_roles``). A flag on a registered person without
    a case has no ``case_id`` and names its supervisor itself."""

    __tablename__ = "risk_alert"
    __table_args__ = (
        same_organisation("case_id", "case_file"),
        same_organisation("beneficiary_id", "beneficiary"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    beneficiary_id: uuid.UUID
    site_id: uuid.UUID | None = None
    flag: str = Field(max_length=64)
    source: str = Field(max_length=32, description="assessment or case_worker")
    assessment_id: uuid.UUID | None = None
    supervisor: str = Field(max_length=255, index=True)
    notify_roles: list[str] = Field(default_factory=list, sa_type=JSON)
    raised_by: str = Field(max_length=255)
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: AlertStatus = Field(default=AlertStatus.open, index=True)
    acknowledged_by: str | None = Field(default=None, max_length=255)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    action_taken_enc: str | None = Field(default=None, sa_type=Text)
    delivery: AlertDelivery = AlertDelivery.pending
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
