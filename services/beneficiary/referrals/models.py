"""The ``referral`` table: who was referred where, for what, and how far it
got. The receiver's feedback is free text about a person, so it is stored
encrypted.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Text
from sqlmodel import Field

from services.beneficiary.db import Table, organisation_key, same_organisation
from shared.contracts.enums import ReferralArea, ReferralKind, ReferralStatus
from shared.db import UTCDateTime, utcnow


class Referral(Table, table=True):
    """A person referred to another unit or provider, tracked to its outcome."""

    __tablename__ = "referral"
    __table_args__ = (
        organisation_key(),
        same_organisation("beneficiary_id", "beneficiary"),
        same_organisation("case_id", "case_file"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(primary_key=True, index=True)
    beneficiary_id: uuid.UUID = Field(index=True)
    case_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    kind: ReferralKind
    area: ReferralArea
    receiving_party: str = Field(max_length=200)
    status: ReferralStatus = ReferralStatus.sent
    sent_on: date
    status_on: date
    feedback_enc: str | None = Field(default=None, sa_type=Text)
    created_by: str = Field(max_length=255)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
