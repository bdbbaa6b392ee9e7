"""Request and response models for teams."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.enums import TeamKind
from shared.contracts.text import Text


class TeamCreate(BaseModel):
    """A team of the organisation: a governorate team or a mobile team."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Mobile team Sinjar", "kind": "mobile"}]
        },
        extra="forbid",
    )

    name: Text = Field(min_length=1, max_length=200)
    kind: TeamKind
    governorate_id: uuid.UUID | None = Field(
        default=None, description="The governorate a governorate team covers."
    )


class TeamUpdate(BaseModel):
    """Changes to a team."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Dohuk"}]}, extra="forbid"
    )

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    kind: TeamKind | None = None
    governorate_id: uuid.UUID | None = None
    active: bool | None = Field(
        default=None,
        description="An inactive team keeps its records but takes no new ones.",
    )


class TeamRead(BaseModel):
    """A team."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organisation_id: uuid.UUID
    name: str
    kind: TeamKind
    governorate_id: uuid.UUID | None
    active: bool
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
