"""The ``organisation`` table. A partner's requested lead and its approved lead
are separate columns, so a partner cannot count its work under a lead that did
not accept it; who approved, and when, stays on the row.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from services.beneficiary.db import Table
from shared.contracts.enums import OrganisationType
from shared.db import UTCDateTime, utcnow


class Organisation(Table, table=True):
    """A programme's lead agency or one of its implementing partners."""

    __tablename__ = "organisation"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    type: OrganisationType
    lead_organisation_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="organisation.id",
        description="The lead that approved this partner: only then does its "
        "work count under the lead.",
    )
    requested_lead_organisation_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="organisation.id",
        description="A partner link waiting for the lead's admin to approve it.",
    )
    lead_approved_by: str | None = Field(default=None, max_length=255)
    lead_approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    default_language: str = Field(
        default="en",
        max_length=8,
        description="The language of its documents and exports when a request "
        "names none (no lang, no Accept-Language).",
    )
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
