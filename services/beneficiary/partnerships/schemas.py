"""Request and response models for partnerships."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.beneficiary.partnerships.models import PartnershipOrigin

ActivityCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,64}$")]


class _Period(BaseModel):
    @model_validator(mode="after")
    def _ordered(self) -> _Period:
        start, end = getattr(self, "start", None), getattr(self, "end", None)
        if start is not None and end is not None and end < start:
            raise ValueError("end is before start")
        return self


class PartnershipCreate(_Period):
    """An agreement under which a partner's records roll up to the lead."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "partner_organisation_id": "02296082-9e39-43f6-a82e-0ca62b0a1746",
                    "start": "2026-03-01",
                    "end": "2026-03-31",
                    "activity_codes": ["individual_counselling"],
                }
            ]
        },
        extra="forbid",
    )

    partner_organisation_id: uuid.UUID
    project_id: uuid.UUID | None = Field(
        default=None, description="A project your organisation leads."
    )
    start: date
    end: date
    location_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=500,
        description="Places covered (a governorate covers its districts and "
        "sites); empty: everywhere.",
    )
    activity_codes: list[ActivityCode] = Field(
        default_factory=list,
        max_length=100,
        description="Activities covered (taxonomy codes); empty: all.",
    )


class PartnershipUpdate(_Period):
    """A change to a partnership's period, places or activities."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"end": "2026-02-28"}]}, extra="forbid"
    )

    start: date | None = None
    end: date | None = None
    location_ids: list[uuid.UUID] | None = Field(default=None, max_length=500)
    activity_codes: list[ActivityCode] | None = Field(default=None, max_length=100)


class PartnershipRead(BaseModel):
    """A partnership: who, for which project, period, places and activities."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    lead_organisation_id: uuid.UUID
    partner_organisation_id: uuid.UUID
    project_id: uuid.UUID | None
    start: date | None = Field(description="Inclusive; null: open.")
    end: date | None = Field(description="Inclusive; null: open.")
    location_ids: list[uuid.UUID]
    activity_codes: list[str]
    origin: PartnershipOrigin
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
