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
    """Staff and volunteers in one role."""

    role: StaffRole
    staff: int = Field(ge=0, le=100_000)
    volunteers: int = Field(default=0, ge=0, le=100_000)


class ContactPerson(_In):
    """Who to contact at an organisation; stored encrypted."""

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "organisation_id": "12f35de4-035d-419d-943e-0ca3de416d7b",
                    "name": "Al-Amal Community Association",
                    "type": "cso",
                    "legal_status": "registered_ngo",
                    "area_location_ids": ["5e7fa2dd-055a-4419-b449-a2eef1b98654"],
                    "iasc_layers": ["community_family"],
                    "activity_codes": ["recreational_activity", "pfa"],
                    "languages": ["ar"],
                    "staff": [
                        {"role": "community_worker", "staff": 3, "volunteers": 0}
                    ],
                    "network_memberships": ["mhpss_twg"],
                    "contact": {
                        "name": "Hana Yousif",
                        "position": "Director",
                        "phone": "+964 770 123 4567",
                    },
                }
            ]
        }
    )

    organisation_id: uuid.UUID | None = Field(
        default=None,
        description="An existing organisation (yours or your partner's), or "
        "the client-chosen id of a prospective one.",
    )
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    type: OrganisationType | None = None


class ProfileUpdate(ProfileFields):
    """Changes to an organisation's profile."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"languages": ["en"]}]})

    programme_status: ProgrammeStatus | None = None


class HistoryEntry(BaseModel):
    """A step in an organisation's history with the programme."""

    on: date
    event: str
    reference_id: uuid.UUID | None = None


class ProfileRead(BaseModel):
    """An organisation's profile: status, areas, services, staff and contact."""

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
    """One organisation found by a mapping, where and on what."""

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
    """A dated mapping of which organisations work where."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "CSOs relevant to psychosocial support in the city",
                    "conducted_from": "2026-01-06",
                    "conducted_to": "2026-01-20",
                    "location_id": "5e7fa2dd-055a-4419-b449-a2eef1b98654",
                    "method": "key_informants",
                    "findings": [
                        {
                            "organisation_id": "12f35de4-035d-419d-943e-0ca3de416d7b",
                            "location_ids": ["5e7fa2dd-055a-4419-b449-a2eef1b98654"],
                            "iasc_layers": ["community_family"],
                            "activity_codes": ["recreational_activity"],
                            "relevance": "high",
                        },
                        {
                            "organisation_id": "fa772f28-fc58-4b6e-9ce3-760420b07383",
                            "location_ids": ["5e7fa2dd-055a-4419-b449-a2eef1b98654"],
                            "iasc_layers": ["community_family"],
                            "activity_codes": ["recreational_activity"],
                            "relevance": "high",
                        },
                    ],
                    "analysis": {
                        "service_gaps": ["group_counselling", "pfa"],
                        "recommended_organisation_ids": [
                            "12f35de4-035d-419d-943e-0ca3de416d7b",
                            "fa772f28-fc58-4b6e-9ce3-760420b07383",
                        ],
                    },
                }
            ]
        }
    )

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
    """A mapping exercise and its findings."""

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
    """The level given to one item and the evidence seen."""

    level: int = Field(ge=1, le=4)
    evidence: Text | None = Field(
        default=None, max_length=2000, description="Stored encrypted."
    )


class CapacityAssessmentCreate(_In):
    """An organisation scored on a capacity tool's items, with evidence."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "assessed_organisation_id": "12f35de4-035d-419d-943e-0ca3de416d7b",
                    "tool": "oca_mhpss@1.0",
                    "timepoint": "follow_up",
                    "assessed_on": "2026-04-30",
                    "items": {
                        "gov1": {
                            "level": 3,
                            "evidence": "Policy document and minutes seen",
                        },
                        "gov2": {
                            "level": 2,
                            "evidence": "Policy document and minutes seen",
                        },
                        "gov3": {
                            "level": 2,
                            "evidence": "Policy document and minutes seen",
                        },
                        "tech1": {
                            "level": 3,
                            "evidence": "Policy document and minutes seen",
                        },
                        "tech2": {
                            "level": 3,
                            "evidence": "Policy document and minutes seen",
                        },
                        "tech3": {
                            "level": 3,
                            "evidence": "Policy document and minutes seen",
                        },
                        "safe1": {
                            "level": 2,
                            "evidence": "Policy document and minutes seen",
                        },
                        "safe2": {
                            "level": 2,
                            "evidence": "Policy document and minutes seen",
                        },
                        "safe3": {
                            "level": 1,
                            "evidence": "Policy document and minutes seen",
                        },
                        "fin1": {
                            "level": 1,
                            "evidence": "Policy document and minutes seen",
                        },
                        "fin2": {
                            "level": 1,
                            "evidence": "Policy document and minutes seen",
                        },
                        "fin3": {
                            "level": 1,
                            "evidence": "Policy document and minutes seen",
                        },
                        "me1": {
                            "level": 2,
                            "evidence": "Policy document and minutes seen",
                        },
                        "me2": {
                            "level": 2,
                            "evidence": "Policy document and minutes seen",
                        },
                        "me3": {
                            "level": 2,
                            "evidence": "Policy document and minutes seen",
                        },
                    },
                    "mentoring_plan_id": "5602eb84-4a5e-4f8e-8d16-bd7502587f53",
                    "project_id": "0b6f0d0e-9a41-4c1e-8f0c-3a5d2f7e6b11",
                }
            ]
        }
    )

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
    project_id: uuid.UUID | None = Field(
        default=None,
        description="The project the assessment is made under: one your "
        "organisation leads or is a listed partner in, running on "
        "``assessed_on`` (422 otherwise). Tag the baseline and the follow-up "
        "alike: the capacity change by project pairs them within the project.",
    )


class CapacityAssessmentRead(BaseModel):
    """A capacity assessment with its score per domain."""

    id: uuid.UUID
    assessed_organisation_id: uuid.UUID
    tool: str
    timepoint: str
    assessed_on: date
    items: dict[str, CapacityItemScore]
    domain_scores: dict[str, float]
    mentoring_plan_id: uuid.UUID | None
    project_id: uuid.UUID | None = None
    assessor: str
    created_at: datetime


class DomainChange(BaseModel):
    """Mean capacity score change in one domain between baseline and follow-up."""

    domain: str
    organisations: int = Field(description="With a baseline and a follow-up.")
    mean_baseline: float
    mean_follow_up: float
    mean_change: float


class OrganisationChange(BaseModel):
    """One organisation's capacity change between two assessments."""

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
    """A selection criterion with its weight and highest score."""

    code: Code
    label: Text = Field(min_length=1, max_length=200)
    weight: float = Field(gt=0, le=100)
    max_score: int = Field(ge=1, le=100)


class SelectionRoundCreate(_In):
    """A call for organisations with weighted criteria."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "CSO partners for psychosocial support, Mosul 2026",
                    "opened_on": "2026-01-01",
                    "criteria": [
                        {
                            "code": "reach",
                            "label": "Reach in the target districts",
                            "weight": 2,
                            "max_score": 5,
                        },
                        {
                            "code": "mhpss_experience",
                            "label": "MHPSS experience",
                            "weight": 3,
                            "max_score": 5,
                        },
                    ],
                }
            ]
        }
    )

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
    """A new version of a round's criteria, before its decision."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "criteria": [
                        {
                            "code": "reach",
                            "label": "Reach in the target districts",
                            "weight": 2,
                            "max_score": 5,
                        },
                        {
                            "code": "mhpss_experience",
                            "label": "MHPSS experience",
                            "weight": 3,
                            "max_score": 5,
                        },
                        {
                            "code": "safeguarding",
                            "label": "Safeguarding policy in place",
                            "weight": 1,
                            "max_score": 5,
                        },
                    ]
                }
            ]
        }
    )

    criteria: list[Criterion] = Field(min_length=1, max_length=30)


class Exclusion(_In):
    """An application left out of a selection, and why."""

    application_id: uuid.UUID
    reason: NotSelectedReason
    note: Text | None = Field(default=None, max_length=1000)


class DecisionCreate(_In):
    """How a round selects: the top N, a minimum score, and exclusions with reasons."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decided_on": "2026-02-01",
                    "select_top": 35,
                    "exclusions": [
                        {
                            "application_id": "cbc3e0ba-292b-4cc0-9783-55748ecc2c89",
                            "reason": "ineligible_registration",
                        },
                        {
                            "application_id": "583ee9b0-d10f-4237-9c32-1e98d6da7877",
                            "reason": "outside_programme_area",
                        },
                    ],
                }
            ]
        }
    )

    decided_on: date
    select_top: int | None = Field(default=None, ge=1, le=10_000)
    min_score: float | None = Field(default=None, ge=0, le=100)
    exclusions: list[Exclusion] = Field(default_factory=list, max_length=10_000)


class SelectionRoundRead(BaseModel):
    """A selection round and its decision."""

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
    """An organisation put forward for a selection round."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "candidate_organisation_id": "3f02a20b-770d-4be4-9fde-642d3bb43c36",
                    "channel": "nomination",
                }
            ]
        }
    )

    id: uuid.UUID | None = None
    candidate_organisation_id: uuid.UUID
    channel: Literal["application", "nomination"]


class ApplicationRead(BaseModel):
    """An application with its score, rank and the decision's reason."""

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
    """One reviewer's scores of an application, per criterion."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "application_id": "2c7d1134-52a9-4c32-870d-d7e742d621e5",
                    "scores": {"reach": 4, "mhpss_experience": 3},
                }
            ]
        }
    )

    id: uuid.UUID | None = None
    application_id: uuid.UUID
    scores: dict[str, float] = Field(min_length=1, max_length=30)


class ScoreRead(BaseModel):
    """A reviewer's scores."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    application_id: uuid.UUID
    reviewer: str
    scores: dict[str, float]


class RankedApplication(BaseModel):
    """An application's place in a round's ranking, and why."""

    rank: int
    application_id: uuid.UUID
    candidate_organisation_id: uuid.UUID
    score: float | None = Field(description="Weighted total, 0-100.")
    reviewers: int
    criterion_means: dict[str, float]
    outcome: Literal["selected", "not_selected"] | None
    reason: NotSelectedReason | None


class Ranking(BaseModel):
    """A round's ranking, reproducible from its scores and criteria version."""

    round_id: uuid.UUID
    criteria_version: int
    tie_break: str
    ranking: list[RankedApplication]


class NeedsFinding(_In):
    """A coded finding of a needs assessment."""

    topic: NeedsTopic
    severity: Literal["low", "medium", "high"]
    share_reporting: float | None = Field(default=None, ge=0, le=1)


class NeedsAssessmentCreate(_In):
    """A dated needs assessment: method, place, population and findings."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "conducted_on": "2026-01-05",
                    "method": "household_survey",
                    "location_id": "5e7fa2dd-055a-4419-b449-a2eef1b98654",
                    "population": "mixed",
                    "sample_size": 94,
                    "sample_unit": "households",
                    "findings": [
                        {"topic": "psychological_distress", "severity": "high"},
                        {"topic": "community_conflict", "severity": "medium"},
                    ],
                }
            ]
        }
    )

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
    """A needs assessment as recorded."""

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
