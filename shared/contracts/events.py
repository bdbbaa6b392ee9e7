"""Events on the outbox, the change feed and the queue: facts, never PII.

No names, phone numbers, addresses, free text or exact dates of birth cross a
service boundary; a beneficiary is known to other services only by its
pseudonymous id.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.enums import (
    AgeGroup,
    CaseStatus,
    ClosureReason,
    ConsentPurpose,
    DeliveredThrough,
    DisabilityStatus,
    DisplacementStatus,
    MaritalStatus,
    Modality,
    RegistrationChannel,
    RiskLevel,
    Sex,
    Timepoint,
)
from shared.taxonomy.iasc import IascLayer


class EventEnvelope(BaseModel):
    """One event as the change feed and the queue carry it."""

    id: uuid.UUID
    position: int = Field(description="Feed position; strictly increasing.")
    type: str
    source: str = Field(description="The producing service.")
    organisation_id: uuid.UUID
    entity_id: uuid.UUID
    occurred_at: datetime
    schema_version: int = 1
    data: dict[str, Any]


class EventFeedPage(BaseModel):
    """A page of the change feed; ask again with ``after=next_after``."""

    events: list[EventEnvelope]
    next_after: int = Field(description="The position to resume after.")


class _Facts(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BeneficiaryFacts(_Facts):
    """beneficiary.registered / beneficiary.updated / beneficiary.erased."""

    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None
    sex: Sex
    birth_year: int | None
    marital_status: MaritalStatus | None
    disability: DisabilityStatus
    displacement_status: DisplacementStatus | None
    nationality: str | None
    registration_date: date
    registration_channel: RegistrationChannel
    version: int


class ConsentFacts(_Facts):
    """consent.recorded: which purposes a beneficiary now consents to."""

    beneficiary_id: uuid.UUID
    purpose: ConsentPurpose
    granted: bool


class ServiceRecordFacts(_Facts):
    """service_record.recorded / service_record.updated / service_record.voided."""

    service_record_id: uuid.UUID
    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID = Field(description="Who delivered it.")
    lead_organisation_id: uuid.UUID = Field(
        description="The programme's lead; equals organisation_id when direct."
    )
    delivered_through: DeliveredThrough
    activity_code: str
    iasc_layer: IascLayer
    service_date: date
    site_id: uuid.UUID | None
    modality: Modality
    duration_minutes: int | None
    group_activity_id: uuid.UUID | None
    age_at_service: int | None
    voided: bool
    version: int


class AnonymousCount(_Facts):
    sex: Sex | None
    age_group: AgeGroup
    disability: DisabilityStatus
    count: int


class AnonymousServiceFacts(_Facts):
    """anonymous_service.recorded: people served without registration."""

    anonymous_service_id: uuid.UUID
    organisation_id: uuid.UUID
    lead_organisation_id: uuid.UUID
    delivered_through: DeliveredThrough
    activity_code: str
    iasc_layer: IascLayer
    service_date: date
    site_id: uuid.UUID | None
    modality: Modality
    group_activity_id: uuid.UUID | None
    counts: list[AnonymousCount]
    voided: bool


class CaseFacts(_Facts):
    """case.opened / case.updated / case.status_changed: no notes, no names."""

    case_id: uuid.UUID
    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID
    site_id: uuid.UUID | None
    status: CaseStatus
    risk_level: RiskLevel
    iasc_layer_needed: IascLayer
    presenting_problems: list[str]
    opened_on: date
    closed_on: date | None
    closure_reason: ClosureReason | None
    version: int


class AssessmentFacts(_Facts):
    """assessment.recorded: scores and bands only, never item answers."""

    assessment_id: uuid.UUID
    case_id: uuid.UUID
    beneficiary_id: uuid.UUID
    organisation_id: uuid.UUID
    instrument: str
    timepoint: Timepoint
    administered_on: date
    scores: dict[str, float | None]
    bands: dict[str, str | None]
    risk_flagged: bool
