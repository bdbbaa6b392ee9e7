"""The ``consent_entry`` table: one line of a person's ledger per purpose given
or withdrawn, never edited, so the ledger shows what was in force at any time.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field

from services.beneficiary.db import Table, organisation_key, same_organisation
from shared.contracts.enums import ConsentPurpose
from shared.db import UTCDateTime, utcnow


class ConsentEntry(Table, table=True):
    """One line of a beneficiary's consent ledger; the newest entry per purpose
    is in force. Entries are never edited: a withdrawal is a new entry."""

    __tablename__ = "consent_entry"
    __table_args__ = (
        organisation_key(),
        same_organisation("beneficiary_id", "beneficiary"),
        # a ledger's look-up names both, so this index, not the key (which
        # starts with the organisation), is the one it reads
        Index("ix_consent_entry_beneficiary_id", "beneficiary_id", "organisation_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID = Field(primary_key=True)
    purpose: ConsentPurpose
    granted: bool
    form_version: str = Field(max_length=32)
    agency: str | None = Field(default=None, max_length=200)
    recorded_by: str = Field(max_length=255)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sequence: int = Field(description="Order of entries for one beneficiary.")
