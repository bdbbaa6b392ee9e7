"""Tables of case management: the case, each assessment with its computed
scores, and the versioned plan, follow-ups and safety plans. Free text (intake
notes, plans) is stored encrypted like other PII.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Text
from sqlmodel import Field

from services.beneficiary.db import Table, organisation_key, same_organisation
from shared.contracts.enums import CaseStatus, ClosureReason, RiskLevel, Timepoint
from shared.db import UTCDateTime, utcnow
from shared.taxonomy.iasc import IascLayer


class Case(Table, table=True):
    """A person followed through case management, from intake to closure."""

    __tablename__ = "case_file"
    __table_args__ = (
        organisation_key(),
        same_organisation("beneficiary_id", "beneficiary"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", primary_key=True, index=True
    )
    beneficiary_id: uuid.UUID = Field(index=True)
    site_id: uuid.UUID | None = Field(default=None, foreign_key="location.id")
    status: CaseStatus = CaseStatus.open
    presenting_problems: list[str] = Field(sa_type=JSON)
    risk_level: RiskLevel
    iasc_layer_needed: IascLayer
    case_worker: str = Field(max_length=255, index=True)
    supervisor: str = Field(max_length=255, index=True)
    intake_notes_enc: str | None = Field(default=None, sa_type=Text)
    opened_on: date
    closed_on: date | None = None
    closure_reason: ClosureReason | None = None
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Assessment(Table, table=True):
    """One administration of a standard instrument, with its computed scores."""

    __tablename__ = "assessment"
    __table_args__ = (
        organisation_key(),
        same_organisation("case_id", "case_file"),
        same_organisation("beneficiary_id", "beneficiary"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(index=True)
    organisation_id: uuid.UUID = Field(primary_key=True, index=True)
    beneficiary_id: uuid.UUID
    instrument: str = Field(max_length=64, description="code@version")
    timepoint: Timepoint
    administered_on: date
    administered_by: str = Field(max_length=255)
    norm: str | None = Field(default=None, max_length=64)
    responses: dict[str, Any] = Field(sa_type=JSON)
    scores: dict[str, Any] = Field(sa_type=JSON)
    bands: dict[str, Any] = Field(sa_type=JSON)
    risk_flags: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CasePlan(Table, table=True):
    """The agreed plan; each change is a new version (the newest is in force)."""

    __tablename__ = "case_plan"
    __table_args__ = (same_organisation("case_id", "case_file"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID
    case_id: uuid.UUID = Field(index=True)
    version: int
    goals_enc: str = Field(sa_type=Text, description="Encrypted JSON list of goals.")
    planned_activities: list[str] = Field(sa_type=JSON)
    review_on: date | None = None
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FollowUp(Table, table=True):
    """A case management contact; it is also a service record, counted once."""

    __tablename__ = "follow_up"
    __table_args__ = (
        organisation_key(),
        same_organisation("case_id", "case_file"),
        same_organisation("service_record_id", "service_record"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(primary_key=True)
    case_id: uuid.UUID = Field(index=True)
    service_record_id: uuid.UUID
    on: date
    notes_enc: str | None = Field(default=None, sa_type=Text)
    next_follow_up_on: date | None = None
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SafetyPlan(Table, table=True):
    """A suicide safety plan; versions are kept, the newest is in force."""

    __tablename__ = "safety_plan"
    __table_args__ = (same_organisation("case_id", "case_file"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID
    case_id: uuid.UUID = Field(index=True)
    version: int
    content_enc: str = Field(
        sa_type=Text,
        description="Encrypted JSON: warning signs, coping strategies, "
        "contacts, means restriction.",
    )
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
