"""Request and response models for places. A new place is refused unless its
shape fits its level: only a site has a site type, and a district or site needs
a parent.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.enums import LocationLevel, SiteType
from shared.contracts.text import Text


class LocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = None
    pcode: str | None = Field(
        default=None, min_length=2, max_length=32, pattern=r"^[A-Z]{2}[A-Z0-9]+$"
    )
    name: Text = Field(min_length=1, max_length=200)
    level: LocationLevel
    site_type: SiteType | None = None
    parent_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _shape(self) -> LocationCreate:
        if self.level == LocationLevel.site and self.site_type is None:
            raise ValueError("a site needs a site_type")
        if self.level != LocationLevel.site and self.site_type is not None:
            raise ValueError("only a site has a site_type")
        if self.level != LocationLevel.governorate and self.parent_id is None:
            raise ValueError("a district or site needs a parent_id")
        return self


class LocationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    pcode: str | None
    name: str
    level: LocationLevel
    site_type: SiteType | None
    parent_id: uuid.UUID | None
    created_at: datetime
