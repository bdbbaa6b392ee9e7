"""Request and response models for cases and assessments. Intake refuses
presenting problems outside the taxonomy, and a transition takes a closure
reason when it closes the case and only then.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.beneficiary.beneficiaries.schemas import RecordDate
from shared.contracts.enums import CaseStatus, ClosureReason, RiskLevel, Timepoint
from shared.contracts.text import Text
from shared.taxonomy.activities import presenting_problems
from shared.taxonomy.iasc import IascLayer

Subject = Text


class CaseOpen(BaseModel):
    """Intake: what brings the person, how at risk, which layer of care."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = None
    beneficiary_id: uuid.UUID
    presenting_problems: list[Annotated[Text, Field(max_length=64)]] = Field(
        min_length=1, max_length=10
    )
    risk_level: RiskLevel
    iasc_layer_needed: IascLayer
    case_worker: Subject = Field(min_length=1, max_length=255)
    supervisor: Subject = Field(min_length=1, max_length=255)
    intake_notes: Text | None = Field(default=None, max_length=10_000)
    opened_on: RecordDate

    @field_validator("presenting_problems")
    @classmethod
    def _known_problems(cls, value: list[str]) -> list[str]:
        unknown = [p for p in value if p not in presenting_problems()]
        if unknown:
            raise ValueError(f"unknown presenting problems: {', '.join(unknown)}")
        if len(set(value)) != len(value):
            raise ValueError("a presenting problem is listed twice")
        return value


class CaseTransition(BaseModel):
    """Move a case along its state machine."""

    model_config = ConfigDict(extra="forbid")

    status: CaseStatus
    on: RecordDate
    closure_reason: ClosureReason | None = None

    @model_validator(mode="after")
    def _reason_only_on_closure(self) -> CaseTransition:
        if (self.status == CaseStatus.closed) != (self.closure_reason is not None):
            raise ValueError("closure_reason is required to close, and only then")
        return self


class CaseRead(BaseModel):
    id: uuid.UUID
    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None
    status: CaseStatus
    presenting_problems: list[str]
    risk_level: RiskLevel
    iasc_layer_needed: IascLayer
    case_worker: str
    supervisor: str
    intake_notes: str | None
    opened_on: date
    closed_on: date | None
    closure_reason: ClosureReason | None
    version: int
    created_at: datetime
    updated_at: datetime


class AssessmentCreate(BaseModel):
    """Answers to one instrument; the server validates and scores them."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = None
    instrument: str = Field(
        pattern=r"^[a-z0-9_]{2,32}$", description="Code from GET /v1/instruments."
    )
    version: Text | None = Field(
        default=None, max_length=16, description="Default: the newest version."
    )
    norm: Text | None = Field(default=None, max_length=64)
    timepoint: Timepoint
    administered_on: RecordDate
    responses: dict[str, int | None] = Field(max_length=100)


class AssessmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    instrument: str
    timepoint: Timepoint
    administered_on: date
    administered_by: str
    norm: str | None
    responses: dict[str, int | None]
    scores: dict[str, float | None]
    bands: dict[str, str | None]
    risk_flags: list[str]
    created_at: datetime


class Outcome(BaseModel):
    """Change on one instrument from the first to the latest assessment."""

    instrument: str
    score: str
    baseline: float | None
    baseline_on: date
    latest: float | None
    latest_on: date
    latest_band: str | None
    change: float | None
    improved: bool | None
    reliable: bool | None = Field(
        description="None: the instrument defines no threshold."
    )
    meaningful: bool | None
