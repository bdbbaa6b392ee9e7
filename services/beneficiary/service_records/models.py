"""Tables of services delivered: a service record per person, a group activity,
and anonymous services kept as demographic counts only. They share the delivery
columns (who, where, which IASC layer, direct or through a partner, voided or
not), so reporting counts every kind alike.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field

from services.beneficiary.db import Table, organisation_key, same_organisation
from shared.contracts.enums import DeliveredThrough, DeliveryMode, Modality
from shared.db import UTCDateTime, utcnow
from shared.taxonomy.iasc import IascLayer


class _Delivery(Table):
    """Who delivered, where and how: common to every kind of record."""

    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", primary_key=True)
    lead_organisation_id: uuid.UUID = Field(foreign_key="organisation.id")
    delivered_through: DeliveredThrough
    activity_code: str = Field(max_length=64)
    iasc_layer: IascLayer
    site_id: uuid.UUID | None = Field(default=None, foreign_key="location.id")
    modality: Modality
    team_id: uuid.UUID | None = Field(default=None, foreign_key="team.id", index=True)
    delivery_mode: DeliveryMode | None = None
    project_id: uuid.UUID | None = Field(
        default=None, foreign_key="project.id", index=True
    )
    created_by: str = Field(max_length=255)
    voided: bool = False
    void_reason: str | None = Field(default=None, max_length=500)
    version: int = 1
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, index=True
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class GroupSeries(Table, table=True):
    """A group that meets over several sessions (a peer-support group of
    eight meetings): what it plans; its sessions are group activities that
    name it."""

    __tablename__ = "group_series"
    __table_args__ = (organisation_key(),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", primary_key=True, index=True
    )
    name: str = Field(max_length=200)
    activity_code: str = Field(max_length=64)
    topic_code: str | None = Field(default=None, max_length=64)
    facilitator_staff_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    site_id: uuid.UUID | None = Field(default=None, foreign_key="location.id")
    team_id: uuid.UUID | None = Field(default=None, foreign_key="team.id", index=True)
    planned_sessions: int
    starts_on: date
    created_by: str = Field(max_length=255)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class GroupActivity(_Delivery, table=True):
    """A session held for a group; each registered attendee gets a service
    record, unregistered attendees are anonymous counts."""

    __tablename__ = "group_activity"
    __table_args__ = (
        organisation_key(),
        same_organisation("group_series_id", "group_series"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    activity_date: date
    duration_minutes: int | None = None
    facilitator_staff_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    group_series_id: uuid.UUID | None = Field(
        default=None, index=True, description="The series it is a session of."
    )
    topic_code: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=3)
    protocol_session: int | None = Field(
        default=None,
        description="The structured intervention's session it was recorded "
        "as (migration 0027): attendees' enrolments count it.",
    )
    participants_by_organisation: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_type=JSON,
        description="[{organisation_id, participants}]: who came from which "
        "organisation (a coordination meeting's attending organisations).",
    )


class ServiceRecord(_Delivery, table=True):
    """One service given to one registered beneficiary on one date."""

    __tablename__ = "service_record"
    __table_args__ = (
        organisation_key(),
        same_organisation("beneficiary_id", "beneficiary"),
        same_organisation("group_activity_id", "group_activity"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    beneficiary_id: uuid.UUID = Field(index=True)
    service_date: date = Field(index=True)
    staff_id: str | None = Field(default=None, max_length=100)
    duration_minutes: int | None = None
    group_activity_id: uuid.UUID | None = Field(default=None, index=True)
    group_series_id: uuid.UUID | None = Field(
        default=None, description="Its group activity's series, for reports."
    )
    topic_code: str | None = Field(
        default=None,
        max_length=64,
        description="The first of ``topic_codes`` (what old readers read).",
    )
    topic_codes: list[str] = Field(
        default_factory=list,
        sa_type=JSON,
        description="What it was about: codes of shared/taxonomy/topics.csv.",
    )
    language: str | None = Field(default=None, max_length=3)


class AnonymousService(_Delivery, table=True):
    """People served without registration, as demographic counts only."""

    __tablename__ = "anonymous_service"
    __table_args__ = (
        organisation_key(),
        same_organisation("group_activity_id", "group_activity"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    service_date: date = Field(index=True)
    staff_id: str | None = Field(default=None, max_length=100)
    group_activity_id: uuid.UUID | None = Field(default=None, index=True)
    group_series_id: uuid.UUID | None = Field(
        default=None, description="Its group activity's series, for reports."
    )
    counts: list[dict[str, Any]] = Field(sa_type=JSON)
    total: int
