"""Wire models of data-sharing agreements and the exports made under them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.beneficiary.protection.sharing.fields import SharedField, Value
from shared.contracts.text import Text
from shared.db import utcnow

StrippedText = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1)]


class AgreementStatus(StrEnum):
    """Where a sharing agreement stands on today's date."""

    scheduled = "scheduled"  # before valid_from
    active = "active"
    expired = "expired"  # after expires_on
    revoked = "revoked"


class SharingAgreementCreate(BaseModel):
    """The terms: who receives, why, which fields, from when until when.

    An agreement is never edited: to change its terms, revoke it and make a
    new one, so every export stays tied to the terms it was made under."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "partner": "Cash assistance partner (WFP cooperating partner)",
                    "purpose": "Cash assistance follow-up",
                    "fields": ["pseudonym", "full_name"],
                    "valid_from": "2026-01-01",
                    "expires_on": "2099-12-31",
                }
            ]
        },
        extra="forbid",
    )

    partner: Annotated[StrippedText, Field(max_length=200)] = Field(
        description="The organisation receiving the data."
    )
    purpose: Annotated[StrippedText, Field(max_length=500)] = Field(
        description="What the partner may use the data for."
    )
    fields: list[SharedField] = Field(
        min_length=1,
        description="Columns of each record, in this order. Identifying ones "
        "(beneficiary_code, full_name, phone, address, date_of_birth) reach "
        "the person directly; name as few fields as the purpose needs.",
    )
    valid_from: date = Field(description="First day (UTC) exports are allowed.")
    expires_on: date = Field(description="Last day (UTC) exports are allowed.")

    @model_validator(mode="after")
    def _consistent(self) -> SharingAgreementCreate:
        if len(set(self.fields)) != len(self.fields):
            raise ValueError("each field may be named once")
        if self.expires_on < self.valid_from:
            raise ValueError("expires_on is before valid_from")
        if self.expires_on < utcnow().date():
            raise ValueError("expires_on is in the past")
        return self


class SharingAgreementRead(BaseModel):
    """An agreement to share some fields of consenting people with a partner."""

    id: uuid.UUID
    organisation_id: uuid.UUID
    partner: str
    purpose: str
    fields: list[str]
    identifying_fields: list[str] = Field(
        description="Those of ``fields`` that identify a person directly."
    )
    valid_from: date
    expires_on: date
    status: AgreementStatus
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class SharingExportRead(BaseModel):
    """One line of the export log."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    agreement_id: uuid.UUID
    organisation_id: uuid.UUID
    exported_by: str
    exported_at: datetime
    records: int
    fields: list[str]
    reason: str | None


class SharedRecords(BaseModel):
    """What the partner receives: the agreed fields of each consenting person."""

    export: SharingExportRead
    partner: str
    purpose: str
    fields: list[str]
    records: list[dict[str, Value]]
