"""Request and response models for cases and assessments. Intake refuses
presenting problems outside the taxonomy, and a transition takes a closure
reason when it closes the case and only then.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from services.beneficiary.beneficiaries.schemas import RecordDate
from shared.contracts.enums import CaseStatus, ClosureReason, RiskLevel, Timepoint
from shared.contracts.text import Text
from shared.taxonomy.activities import presenting_problems
from shared.taxonomy.iasc import IascLayer

Subject = Text


def _known_problems(value: list[str]) -> list[str]:
    unknown = [p for p in value if p not in presenting_problems()]
    if unknown:
        raise ValueError(
            f"unknown presenting problems: {', '.join(unknown)}; allowed: "
            + ", ".join(presenting_problems())
        )
    if len(set(value)) != len(value):
        raise ValueError("a presenting problem is listed twice")
    return value


PresentingProblems = Annotated[
    list[Annotated[Text, Field(max_length=64)]],
    Field(
        min_length=1,
        max_length=10,
        description="Codes of shared/taxonomy/presenting_problems.csv.",
    ),
    AfterValidator(_known_problems),
]


class CaseOpen(BaseModel):
    """Intake: what brings the person, how at risk, which layer of care."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "beneficiary_id": "3e3c55ef-6ec2-426a-9f41-31406a5f19e5",
                    "presenting_problems": ["low_mood", "grief"],
                    "risk_level": "medium",
                    "iasc_layer_needed": "focused_non_specialized",
                    "case_worker": "alice",
                    "supervisor": "sam",
                    "intake_notes": "Lost two sons in 2017; sleeps badly since.",
                    "opened_on": "2026-01-15",
                    "id": "7a1cd4f2-50df-429b-b133-4d4298ce74c9",
                }
            ]
        },
        extra="forbid",
    )

    id: uuid.UUID | None = None
    beneficiary_id: uuid.UUID
    presenting_problems: PresentingProblems
    risk_level: RiskLevel
    iasc_layer_needed: IascLayer
    case_worker: Subject = Field(min_length=1, max_length=255)
    supervisor: Subject = Field(min_length=1, max_length=255)
    intake_notes: Text | None = Field(default=None, max_length=10_000)
    opened_on: RecordDate


class CaseUpdate(BaseModel):
    """What the case worker now sees the person presenting with (the list
    replaces the one recorded at intake)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"presenting_problems": ["low_mood", "sleep_problems"]}]
        },
        extra="forbid",
    )

    presenting_problems: PresentingProblems


class CaseTransition(BaseModel):
    """Move a case along its state machine."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "closed", "on": "2026-02-01", "closure_reason": "withdrew"}
            ]
        },
        extra="forbid",
    )

    status: CaseStatus
    on: RecordDate
    closure_reason: ClosureReason | None = None

    @model_validator(mode="after")
    def _reason_only_on_closure(self) -> CaseTransition:
        if (self.status == CaseStatus.closed) != (self.closure_reason is not None):
            raise ValueError("closure_reason is required to close, and only then")
        return self


class CaseRead(BaseModel):
    """A case followed by a case worker, with its status and risk level."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "b1f6a113-8ed0-49aa-b501-993bcbc03564",
                    "beneficiary_id": "bc539dad-1193-4379-a103-6589bb4676c0",
                    "organisation_id": "9388e81b-8c2d-4671-8b8b-87e34191e694",
                    "site_id": "faaed83d-796b-484f-a1ac-8efd439dceda",
                    "status": "closed",
                    "presenting_problems": ["low_mood", "grief"],
                    "risk_level": "high",
                    "iasc_layer_needed": "focused_non_specialized",
                    "case_worker": "alice",
                    "supervisor": "sam",
                    "intake_notes": "Zahraa lost her son; Qxvnxdkqvzw sleeps badly",
                    "opened_on": "2026-01-15",
                    "closed_on": "2026-03-25",
                    "closure_reason": "goals_met",
                    "version": 3,
                    "created_at": "2026-01-10T09:12:36.392370Z",
                    "updated_at": "2026-01-10T09:12:38.062181Z",
                }
            ]
        }
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "a9ea3f03-695d-4efa-8f1a-c3bb5ed36b9c",
                    "instrument": "phq9",
                    "timepoint": "baseline",
                    "administered_on": "2026-01-15",
                    "responses": {
                        "1": 1,
                        "2": 1,
                        "3": 1,
                        "4": 1,
                        "5": 1,
                        "6": 1,
                        "7": 1,
                        "8": 1,
                        "9": 0,
                    },
                }
            ]
        },
        extra="forbid",
    )

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
    """A scored instrument administered in a case, with bands and risk flags."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9c18bf57-9ba2-4c5d-8536-bad509c8cfc9",
                    "case_id": "b1f6a113-8ed0-49aa-b501-993bcbc03564",
                    "instrument": "phq9@1.0",
                    "timepoint": "baseline",
                    "administered_on": "2026-01-15",
                    "administered_by": "alice",
                    "norm": "standard",
                    "responses": {
                        "1": 3,
                        "2": 3,
                        "3": 2,
                        "4": 2,
                        "5": 2,
                        "6": 2,
                        "7": 2,
                        "8": 2,
                        "9": 2,
                    },
                    "scores": {"total": 20.0},
                    "bands": {"total": "severe"},
                    "risk_flags": ["suicide_risk"],
                    "created_at": "2026-01-10T09:12:36.461938Z",
                }
            ]
        },
        from_attributes=True,
    )

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
