"""Request and response models for organisations."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.enums import LanguageCode, OrganisationType
from shared.contracts.text import Text

DEFAULT_LANGUAGE = (
    "The language (en, ar or ckb) of the organisation's documents, exports, "
    "dashboard data and subject-access documents when a request names none: "
    "lang wins, then Accept-Language, then this, then English."
)


class OrganisationCreate(BaseModel):
    """An organisation, and the lead it asks to report to."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Al-Amal Community Association",
                    "type": "cso",
                    "lead_organisation_id": "9e9ece17-0ba9-4466-9e86-5c40dcdfcb9d",
                    "default_language": "ar",
                }
            ]
        },
        extra="forbid",
    )

    id: uuid.UUID | None = None
    name: Text = Field(min_length=1, max_length=200)
    type: OrganisationType
    lead_organisation_id: uuid.UUID | None = Field(
        default=None,
        description="Set for an implementing partner: the organisation whose "
        "programme it delivers. The link waits for that lead's admin to approve "
        "it; only then do its services count as through a partner.",
    )
    default_language: LanguageCode = Field(
        default=LanguageCode.en, description=DEFAULT_LANGUAGE
    )


class OrganisationUpdate(BaseModel):
    """What an organisation's own admin may change about it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"default_language": "ckb"}]},
        extra="forbid",
    )

    default_language: LanguageCode = Field(description=DEFAULT_LANGUAGE)


class OrganisationRead(BaseModel):
    """An organisation and its lead, once approved."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    type: OrganisationType
    lead_organisation_id: uuid.UUID | None = Field(
        description="The lead that approved this partner (null for a lead, and "
        "while the link waits for approval)."
    )
    requested_lead_organisation_id: uuid.UUID | None = Field(
        description="The lead this partner asked for, until its admin approves."
    )
    lead_approved_by: str | None = Field(
        description="The lead's admin who approved the link (token subject)."
    )
    lead_approved_at: datetime | None
    default_language: LanguageCode = Field(description=DEFAULT_LANGUAGE)
    version: int = Field(description="Send it back as If-Match to edit.")
    created_at: datetime
