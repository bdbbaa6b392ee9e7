"""Tables of break-the-glass grants and their review."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from services.beneficiary.db import Table, same_organisation
from shared.db import UTCDateTime, utcnow


class AccessGrant(Table, table=True):
    """Break-the-glass: one person's time-limited access to one beneficiary
    outside their site scope, with the reason they gave."""

    __tablename__ = "access_grant"
    __table_args__ = (same_organisation("beneficiary_id", "beneficiary"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(index=True)
    subject: str = Field(max_length=255, index=True)
    beneficiary_id: uuid.UUID = Field(index=True)
    reason: str = Field(max_length=500)
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
