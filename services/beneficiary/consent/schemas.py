"""Consent on the wire: an entry as a client sends it (with a client id, so an
entry sent twice is recorded once) and as it is read back.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.enums import ConsentPurpose
from shared.contracts.text import Text


class ConsentGiven(BaseModel):
    """A purpose the person agreed to (granted) or withdrew (not granted)."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = Field(
        default=None,
        description="Client-generated id: an entry sent twice is recorded once.",
    )
    purpose: ConsentPurpose
    granted: bool
    form_version: Text = Field(
        min_length=1, max_length=32, description="Version of the consent form used."
    )
    agency: Text | None = Field(
        default=None,
        max_length=200,
        description="For purpose=referral: the named agency the person agreed to.",
    )

    @model_validator(mode="after")
    def _agency_only_for_referral(self) -> ConsentGiven:
        if self.agency is not None and self.purpose != ConsentPurpose.referral:
            raise ValueError("agency is only for referral consent")
        return self


class ConsentEntryRead(BaseModel):
    """One entry of a person's consent ledger; the newest per purpose is in force."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    purpose: ConsentPurpose
    granted: bool
    form_version: str
    agency: str | None
    recorded_by: str
    recorded_at: datetime
