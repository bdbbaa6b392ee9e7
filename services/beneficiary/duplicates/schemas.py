"""Duplicate pairs and the merge request on the wire."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class DuplicatePair(BaseModel):
    """Two records registration found alike; ids only, read each person
    (audited) to compare them."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    beneficiary_id: uuid.UUID = Field(description="The later registration.")
    candidate_id: uuid.UUID = Field(description="The person it resembles.")
    reasons: str = Field(
        description="Comma-separated: same_phone, same_name_close_birth_year."
    )
    created_at: datetime


class MergeRequest(BaseModel):
    """Merge ``duplicate_id`` into the person named in the path."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"duplicate_id": "5d163806-d7e5-4cb4-ace6-1db73cbf94eb"}]
        },
    )

    duplicate_id: uuid.UUID = Field(
        description="The record merged away: its services, cases, referrals, "
        "enrolments and consents move to the person kept."
    )
