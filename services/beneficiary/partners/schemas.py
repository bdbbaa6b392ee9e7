"""Request and response models of the partner arc. Codes are closed lists
(``Literal``) or checked against the shared taxonomies, so the analysis of a
mapping, a needs assessment's findings and a non-selection's reason can be
counted, not only read."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.enums import OrganisationType
from shared.contracts.text import Text
from shared.taxonomy.iasc import IascLayer

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ProgrammeStatus = Literal[
    "lead",
    "prospective",
    "applicant",
    "selected",
    "not_selected",
    "partner",
    "withdrawn",
]
LegalStatus = Literal[
    "registered_ngo",
    "registered_association",
    "community_based",
    "unregistered_group",
    "government",
    "other",
]
StaffRole = Literal[
    "manager",
    "psychologist",
    "social_worker",
    "counsellor",
    "community_worker",
    "finance_admin",
    "me_officer",
    "other",
]
MappingMethod = Literal[
    "desk_review", "key_informants", "field_visits", "survey", "workshop", "mixed"
]
Relevance = Literal["high", "medium", "low"]
NotSelectedReason = Literal[
    "ranked_below_cutoff",
    "below_minimum_score",
    "not_scored",
    "ineligible_registration",
    "outside_programme_area",
    "conflict_of_interest",
    "insufficient_capacity",
    "withdrew",
    "other",
]
NeedsMethod = Literal[
    "household_survey",
    "focus_groups",
    "key_informants",
    "community_mapping",
    "mixed",
]
NeedsTopic = Literal[
    "psychological_distress",
    "livelihoods",
    "gender_based_violence",
    "child_protection",
    "access_to_services",
    "stigma",
    "substance_use",
    "family_conflict",
    "community_conflict",
    "displacement",
    "education",
    "disability",
    "housing_shelter",
    "other",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StaffCount(_In):
    role: StaffRole
    staff: int = Field(ge=0, le=100_000)
    volunteers: int = Field(default=0, ge=0, le=100_000)


class ContactPerson(_In):
    name: Text = Field(min_length=1, max_length=200)
    position: Text | None = Field(default=None, max_length=200)
    phone: Text | None = Field(default=None, max_length=40)
    email: Text | None = Field(default=None, max_length=254)


class ProfileFields(_In):
    """The editable fields of a profile (every one optional on PATCH)."""

    legal_status: LegalStatus | None = None
    registration_number: Text | None = Field(default=None, max_length=100)
    registered_on: date | None = None
    area_location_ids: list[uuid.UUID] | None = Field(default=None, max_length=200)
    iasc_layers: list[IascLayer] | None = Field(default=None, max_length=4)
    activity_codes: list[Code] | None = Field(default=None, max_length=100)
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]] | None = Field(
        default=None, max_length=20, description="ISO 639 codes, e.g. ar, ku, en."
    )
    staff: list[StaffCount] | None = Field(default=None, max_length=20)
    network_memberships: list[Code] | None = Field(
        default=None, max_length=50, description="Coded networks, e.g. mhpss_twg."
    )
    contact: ContactPerson | None = Field(
        default=None, description="Stored encrypted; never in events."
    )


class ProfileCreate(ProfileFields):
    """A profile of an organisation on the platform, or of a prospective one
    (not a user of the platform): give ``name`` and ``type`` and it is
    registered as ``prospective`` with the caller's organisation as steward."""

    organisation_id: uuid.UUID | None = Field(
        default=None,
        description="An existing organisation (yours or your partner's), or "
        "the client-chosen id of a prospective one.",
    )
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    type: OrganisationType | None = None


class ProfileUpdate(ProfileFields):
    programme_status: ProgrammeStatus | None = None


class HistoryEntry(BaseModel):
    on: date
    event: str
    reference_id: uuid.UUID | None = None


class ProfileRead(BaseModel):
    organisation_id: uuid.UUID
    name: str
    type: OrganisationType
    steward_organisation_id: uuid.UUID
    programme_status: ProgrammeStatus
    legal_status: LegalStatus | None
    registration_number: str | None
    registered_on: date | None
    area_location_ids: list[uuid.UUID]
    iasc_layers: list[IascLayer]
    activity_codes: list[str]
    languages: list[str]
    staff: list[StaffCount]
    network_memberships: list[str]
    contact: ContactPerson | None
    history: list[HistoryEntry]
    version: int
    created_at: datetime
    updated_at: datetime


class MappingFinding(_In):
    organisation_id: uuid.UUID
    location_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    iasc_layers: list[IascLayer] = Field(default_factory=list, max_length=4)
    activity_codes: list[Code] = Field(default_factory=list, max_length=50)
    relevance: Relevance


class MappingAnalysis(_In):
    """The exercise's conclusions as codes, so they can be compared."""

    service_gaps: list[Code] = Field(
        default_factory=list, max_length=50, description="Activity codes missing."
    )
    underserved_location_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=50
    )
    recommended_organisation_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=500
    )


class MappingCreate(_In):
    id: uuid.UUID | None = None
    title: Text = Field(min_length=1, max_length=200)
    conducted_from: date
    conducted_to: date
    location_id: uuid.UUID | None = Field(default=None, description="The area mapped.")
    method: MappingMethod
    findings: list[MappingFinding] = Field(min_length=1, max_length=1000)
    analysis: MappingAnalysis = Field(default_factory=MappingAnalysis)

    @model_validator(mode="after")
    def _dates(self) -> MappingCreate:
        if self.conducted_to < self.conducted_from:
            raise ValueError("conducted_to is before conducted_from")
        found = [f.organisation_id for f in self.findings]
        if len(set(found)) != len(found):
            raise ValueError("an organisation is listed twice in findings")
        return self


class MappingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    conducted_from: date
    conducted_to: date
    location_id: uuid.UUID | None
    method: MappingMethod
    findings: list[MappingFinding]
    analysis: MappingAnalysis
    recorded_by: str
    created_at: datetime


class CapacityItemScore(_In):
    level: int = Field(ge=1, le=4)
    evidence: Text | None = Field(
        default=None, max_length=2000, description="Stored encrypted."
    )


class CapacityAssessmentCreate(_In):
    id: uuid.UUID | None = None
    assessed_organisation_id: uuid.UUID
    tool: str = Field(
        max_length=64, description="code@version, see GET /v1/capacity-tools."
    )
    timepoint: Literal["baseline", "follow_up"]
    assessed_on: date
    items: dict[str, CapacityItemScore] = Field(min_length=1, max_length=200)
    mentoring_plan_id: uuid.UUID | None = Field(
        default=None,
        description="The training service's mentoring plan this follow-up "
        "measures: the link from a plan to its change.",
    )


class CapacityAssessmentRead(BaseModel):
    id: uuid.UUID
    assessed_organisation_id: uuid.UUID
    tool: str
    timepoint: str
    assessed_on: date
    items: dict[str, CapacityItemScore]
    domain_scores: dict[str, float]
    mentoring_plan_id: uuid.UUID | None
    assessor: str
    created_at: datetime


class DomainChange(BaseModel):
    domain: str
    organisations: int = Field(description="With a baseline and a follow-up.")
    mean_baseline: float
    mean_follow_up: float
    mean_change: float


class OrganisationChange(BaseModel):
    organisation_id: uuid.UUID
    baseline_id: uuid.UUID
    follow_up_id: uuid.UUID
    change: dict[str, float]


class CapacityChange(BaseModel):
    """Baseline (the first) against follow-up (the latest) per organisation,
    and the mean per domain across them."""

    tool: str
    domains: list[DomainChange]
    organisations: list[OrganisationChange]


class Criterion(_In):
    code: Code
    label: Text = Field(min_length=1, max_length=200)
    weight: float = Field(gt=0, le=100)
    max_score: int = Field(ge=1, le=100)


class SelectionRoundCreate(_In):
    id: uuid.UUID | None = None
    title: Text = Field(min_length=1, max_length=200)
    opened_on: date
    criteria: list[Criterion] = Field(min_length=1, max_length=30)

    @model_validator(mode="after")
    def _codes(self) -> SelectionRoundCreate:
        codes = [c.code for c in self.criteria]
        if len(set(codes)) != len(codes):
            raise ValueError("criterion codes must be unique")
        return self


class CriteriaUpdate(_In):
    criteria: list[Criterion] = Field(min_length=1, max_length=30)


class Exclusion(_In):
    application_id: uuid.UUID
    reason: NotSelectedReason
    note: Text | None = Field(default=None, max_length=1000)


class DecisionCreate(_In):
    decided_on: date
    select_top: int | None = Field(default=None, ge=1, le=10_000)
    min_score: float | None = Field(default=None, ge=0, le=100)
    exclusions: list[Exclusion] = Field(default_factory=list, max_length=10_000)


class SelectionRoundRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    opened_on: date
    criteria: list[Criterion]
    criteria_version: int
    status: Literal["open", "decided"]
    decision: DecisionCreate | None
    decided_on: date | None
    decided_by: str | None
    version: int


class ApplicationCreate(_In):
    id: uuid.UUID | None = None
    candidate_organisation_id: uuid.UUID
    channel: Literal["application", "nomination"]


class ApplicationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    round_id: uuid.UUID
    candidate_organisation_id: uuid.UUID
    channel: str
    outcome: Literal["selected", "not_selected"] | None
    reason: NotSelectedReason | None
    reason_note: str | None
    rank: int | None
    score: float | None


class ScoreCreate(_In):
    id: uuid.UUID | None = None
    application_id: uuid.UUID
    scores: dict[str, float] = Field(min_length=1, max_length=30)


class ScoreRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    application_id: uuid.UUID
    reviewer: str
    scores: dict[str, float]


class RankedApplication(BaseModel):
    rank: int
    application_id: uuid.UUID
    candidate_organisation_id: uuid.UUID
    score: float | None = Field(description="Weighted total, 0-100.")
    reviewers: int
    criterion_means: dict[str, float]
    outcome: Literal["selected", "not_selected"] | None
    reason: NotSelectedReason | None


class Ranking(BaseModel):
    round_id: uuid.UUID
    criteria_version: int
    tie_break: str
    ranking: list[RankedApplication]


class NeedsFinding(_In):
    topic: NeedsTopic
    severity: Literal["low", "medium", "high"]
    share_reporting: float | None = Field(default=None, ge=0, le=1)


class NeedsAssessmentCreate(_In):
    id: uuid.UUID | None = None
    conducted_on: date
    method: NeedsMethod
    location_id: uuid.UUID | None = None
    population: Literal[
        "host_community", "idp", "returnee", "refugee", "mixed", "other"
    ]
    sample_size: int = Field(ge=1, le=1_000_000)
    sample_unit: Literal["households", "people", "groups", "informants"]
    findings: list[NeedsFinding] = Field(min_length=1, max_length=100)


class NeedsAssessmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    conducted_on: date
    method: NeedsMethod
    location_id: uuid.UUID | None
    population: str
    sample_size: int
    sample_unit: str
    findings: list[NeedsFinding]
    recorded_by: str
    created_at: datetime
