"""The partner arc's tables. A profile is one row per organisation (its
steward is the organisation that keeps it: the organisation itself, or the
lead that mapped it); every other record is keyed by (organisation_id, id) so
that client-chosen ids are unique within the writing organisation only."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field

from services.beneficiary.db import Table, organisation_key, same_organisation
from shared.db import UTCDateTime, utcnow


class OrganisationProfile(Table, table=True):
    """What a programme knows of an organisation: legal standing, where and
    what it works on, its people, networks and history with the programme."""

    __tablename__ = "organisation_profile"

    organisation_id: uuid.UUID = Field(primary_key=True, foreign_key="organisation.id")
    steward_organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", index=True
    )
    programme_status: str = Field(max_length=32)
    legal_status: str | None = Field(default=None, max_length=32)
    registration_number: str | None = Field(default=None, max_length=100)
    registered_on: date | None = None
    area_location_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    iasc_layers: list[str] = Field(default_factory=list, sa_type=JSON)
    activity_codes: list[str] = Field(default_factory=list, sa_type=JSON)
    languages: list[str] = Field(default_factory=list, sa_type=JSON)
    staff: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    network_memberships: list[str] = Field(default_factory=list, sa_type=JSON)
    contact_enc: str | None = Field(default=None, sa_type=Text)
    history: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def id(self) -> uuid.UUID:
        """The profiled organisation's id (what a retried write re-reads)."""
        return self.organisation_id


class MappingExercise(Table, table=True):
    """A dated record of which organisations were found where, with the
    analysis as structured fields."""

    __tablename__ = "mapping_exercise"
    __table_args__ = (organisation_key(),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", primary_key=True, index=True
    )
    title: str = Field(max_length=200)
    conducted_from: date
    conducted_to: date
    location_id: uuid.UUID | None = Field(default=None, foreign_key="location.id")
    method: str = Field(max_length=32)
    findings: list[dict[str, Any]] = Field(sa_type=JSON)
    analysis: dict[str, Any] = Field(sa_type=JSON)
    recorded_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CapacityAssessment(Table, table=True):
    """One organisation scored with one capacity tool version."""

    __tablename__ = "capacity_assessment"
    __table_args__ = (organisation_key(),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", primary_key=True, index=True
    )
    assessed_organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", index=True
    )
    tool: str = Field(max_length=64)
    timepoint: str = Field(max_length=16)
    assessed_on: date
    levels: dict[str, int] = Field(sa_type=JSON)
    domain_scores: dict[str, float] = Field(sa_type=JSON)
    evidence_enc: str | None = Field(default=None, sa_type=Text)
    mentoring_plan_id: uuid.UUID | None = Field(default=None, index=True)
    project_id: uuid.UUID | None = Field(default=None, index=True)
    assessor: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SelectionRound(Table, table=True):
    """A call with weighted criteria; decided once, under If-Match."""

    __tablename__ = "selection_round"
    __table_args__ = (organisation_key(),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", primary_key=True, index=True
    )
    title: str = Field(max_length=200)
    opened_on: date
    criteria: list[dict[str, Any]] = Field(sa_type=JSON)
    criteria_version: int = 1
    status: str = Field(default="open", max_length=16)
    decision: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    decided_on: date | None = None
    decided_by: str | None = Field(default=None, max_length=255)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SelectionApplication(Table, table=True):
    """An organisation's application (or nomination) to a round, and its
    outcome with the reason once decided."""

    __tablename__ = "selection_application"
    __table_args__ = (
        organisation_key(),
        same_organisation("round_id", "selection_round"),
        UniqueConstraint("organisation_id", "round_id", "candidate_organisation_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", primary_key=True, index=True
    )
    round_id: uuid.UUID
    candidate_organisation_id: uuid.UUID = Field(foreign_key="organisation.id")
    channel: str = Field(max_length=16)
    outcome: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, max_length=32)
    reason_note: str | None = Field(default=None, max_length=1000)
    rank: int | None = None
    score: float | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SelectionScore(Table, table=True):
    """One reviewer's scores of one application, per criterion."""

    __tablename__ = "selection_score"
    __table_args__ = (
        organisation_key(),
        same_organisation("application_id", "selection_application"),
        UniqueConstraint("organisation_id", "application_id", "reviewer"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", primary_key=True, index=True
    )
    application_id: uuid.UUID
    reviewer: str = Field(max_length=255)
    scores: dict[str, float] = Field(sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class NeedsAssessment(Table, table=True):
    """A light needs assessment: method, place, population, sample and key
    findings as coded topics."""

    __tablename__ = "needs_assessment"
    __table_args__ = (organisation_key(),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", primary_key=True, index=True
    )
    conducted_on: date
    method: str = Field(max_length=32)
    location_id: uuid.UUID | None = Field(default=None, foreign_key="location.id")
    population: str = Field(max_length=32)
    sample_size: int
    sample_unit: str = Field(max_length=16)
    findings: list[dict[str, Any]] = Field(sa_type=JSON)
    recorded_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
