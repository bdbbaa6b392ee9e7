"""One line of material handed out: an item, how many, in which language,
on one group activity or one service record of the same organisation. The
delivery columns (date, activity, site, team, project) are copied from that
record when the line is written, so scoping and reports read this row alone.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field

from services.beneficiary.db import Table, organisation_key, same_organisation
from shared.db import UTCDateTime, utcnow


class MaterialDistribution(Table, table=True):
    """Items handed out at one group activity or with one service."""

    __tablename__ = "material_distribution"
    __table_args__ = (
        organisation_key(),
        same_organisation("group_activity_id", "group_activity"),
        same_organisation("service_record_id", "service_record"),
        CheckConstraint(
            "(group_activity_id IS NULL) <> (service_record_id IS NULL)",
            name="one_record",
        ),
        CheckConstraint("quantity > 0", name="quantity"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", primary_key=True, index=True
    )
    group_activity_id: uuid.UUID | None = Field(default=None, index=True)
    service_record_id: uuid.UUID | None = Field(default=None, index=True)
    item_code: str = Field(max_length=64)
    quantity: int
    language: str | None = Field(default=None, max_length=3)
    distributed_on: date
    lead_organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id",
        description="The lead it counts under, as its record does.",
    )
    activity_code: str = Field(max_length=64)
    site_id: uuid.UUID | None = Field(default=None, foreign_key="location.id")
    team_id: uuid.UUID | None = Field(default=None, foreign_key="team.id")
    project_id: uuid.UUID | None = Field(default=None, foreign_key="project.id")
    created_by: str = Field(max_length=255)
    voided: bool = False
    void_reason: str | None = Field(default=None, max_length=500)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
