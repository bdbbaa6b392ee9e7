"""Wire models of break-the-glass grants and their review."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts.text import Text


class BreakGlass(BaseModel):
    """A time-limited emergency access to one person, with the reason."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "beneficiary_id": "7218b453-555b-433f-b106-1e2442940543",
                    "reason": "Imminent risk reported by phone; case worker away",
                    "minutes": 30,
                }
            ]
        },
        extra="forbid",
    )

    beneficiary_id: uuid.UUID
    reason: Annotated[
        Text, StringConstraints(strip_whitespace=True, min_length=10, max_length=480)
    ] = Field(
        description="Why you need this person's records now. Auditors and "
        "programme managers read it; it is not sent to the focal point's "
        "webhook. Write the situation, not the person's name or health details."
    )
    minutes: int = Field(
        ge=1, description="How long the grant lasts (at most the server's limit)."
    )


class GrantRead(BaseModel):
    """An emergency access grant and whether it is still active."""

    id: uuid.UUID
    subject: str
    beneficiary_id: uuid.UUID
    reason: str
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool
