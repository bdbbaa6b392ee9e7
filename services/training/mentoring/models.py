"""The mentoring tables. A plan names either an organisation (the beneficiary
service's organisation id, opaque here) or a trainee; visits hang off a plan
and action points off a visit."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Text
from sqlmodel import Field

from services.training.db import Table
from shared.db import UTCDateTime, organisation_key, same_organisation, utcnow


class MentoringPlan(Table, table=True):
    """What mentoring of one organisation or one person aims at."""

    __tablename__ = "mentoring_plan"
    __table_args__ = (organisation_key(), same_organisation("trainee_id", "trainee"))

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(primary_key=True, index=True)
    mentored_organisation_id: uuid.UUID | None = Field(default=None, index=True)
    trainee_id: uuid.UUID | None = Field(default=None, index=True)
    capacity_tool: str | None = Field(default=None, max_length=64)
    project_id: uuid.UUID | None = Field(
        default=None,
        index=True,
        description="The beneficiary service's project the mentoring is "
        "carried out under, kept as an opaque id like a cohort's.",
    )
    starts_on: date
    ends_on: date
    goals: list[dict[str, Any]] = Field(sa_type=JSON)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MentoringVisit(Table, table=True):
    """A visit or remote session of a plan."""

    __tablename__ = "mentoring_visit"
    __table_args__ = (
        organisation_key(),
        same_organisation("plan_id", "mentoring_plan"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(primary_key=True, index=True)
    plan_id: uuid.UUID = Field(index=True)
    held_on: date
    mode: str = Field(max_length=16)
    duration_minutes: int
    mentor: str = Field(max_length=255)
    participant_trainee_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    participants: int
    topics: list[str] = Field(sa_type=JSON)
    goal_codes: list[str] = Field(default_factory=list, sa_type=JSON)
    observations_enc: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ActionPoint(Table, table=True):
    """Something agreed at a visit, with its owner and due date; its
    wording and owner are encrypted (they may name people)."""

    __tablename__ = "action_point"
    __table_args__ = (
        organisation_key(),
        same_organisation("plan_id", "mentoring_plan"),
        same_organisation("visit_id", "mentoring_visit"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(primary_key=True, index=True)
    plan_id: uuid.UUID = Field(index=True)
    visit_id: uuid.UUID = Field(index=True)
    details_enc: str | None = Field(default=None, sa_type=Text)
    due_on: date
    status: str = Field(default="open", max_length=16)
    completed_on: date | None = None
    version: int = 1
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
