"""Request and response models of mentoring."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.text import Text

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ActionStatus = Literal["open", "in_progress", "done", "dropped"]
VisitMode = Literal["in_person", "remote_video", "phone", "remote_message"]
Topic = Literal[
    "governance",
    "mhpss_technical",
    "safeguarding",
    "data_protection",
    "finance",
    "monitoring_evaluation",
    "case_management",
    "referral_pathways",
    "group_facilitation",
    "psychological_first_aid",
    "counselling_skills",
    "conflict_mediation",
    "recreational_activities",
    "project_cycle",
    "staff_care",
    "other",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Goal(_In):
    """A mentoring goal, tied to a capacity domain or a competency."""

    code: Code
    capacity_domain: Code | None = Field(
        default=None, description="A domain of the plan's capacity tool."
    )
    competency_item: Code | None = Field(
        default=None, description="An item of a competency tool (plans for a person)."
    )
    target_level: float | None = Field(default=None, ge=1, le=4)
    description: Text | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _linked(self) -> Goal:
        if (self.capacity_domain is None) == (self.competency_item is None):
            raise ValueError("a goal names a capacity_domain or a competency_item")
        return self


class PlanCreate(_In):
    """A mentoring plan for an organisation or a person, with goals."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5602eb84-4a5e-4f8e-8d16-bd7502587f53",
                    "mentored_organisation_id": "12f35de4-035d-419d-943e-0ca3de416d7b",
                    "capacity_tool": "oca_mhpss@1.0",
                    "starts_on": "2026-02-10",
                    "ends_on": "2026-04-30",
                    "goals": [
                        {"code": "referral_sop", "capacity_domain": "mhpss_technical"},
                        {"code": "board_minutes", "capacity_domain": "governance"},
                    ],
                }
            ]
        }
    )

    id: uuid.UUID | None = None
    mentored_organisation_id: uuid.UUID | None = Field(
        default=None,
        description="The organisation mentored: one of the beneficiary "
        "service's list (422 otherwise; 503 while that service is down).",
    )
    trainee_id: uuid.UUID | None = None
    capacity_tool: str | None = Field(default=None, max_length=64)
    project_id: uuid.UUID | None = Field(
        default=None,
        description="A project of the beneficiary service (GET /v1/projects "
        "there) your organisation leads or is a listed partner in, whose "
        "period overlaps the plan's; checked there (422 otherwise, another "
        "organisation's project included; 503 while that service is down). "
        "Its visits and action points count under the project.",
    )
    starts_on: date
    ends_on: date
    goals: list[Goal] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one_subject(self) -> PlanCreate:
        if (self.mentored_organisation_id is None) == (self.trainee_id is None):
            raise ValueError("a plan is for one organisation or one trainee")
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        codes = [g.code for g in self.goals]
        if len(set(codes)) != len(codes):
            raise ValueError("goal codes must be unique")
        return self


class ActionPointCreate(_In):
    """An action agreed at a mentoring visit, with who owns it and when it is due."""

    id: uuid.UUID | None = None
    description: Text = Field(min_length=1, max_length=1000)
    owner: Text = Field(min_length=1, max_length=200)
    due_on: date


class VisitCreate(_In):
    """A mentoring visit or remote session with its action points."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "c355c71a-9d55-43f4-829a-149ccf027d25",
                    "held_on": "2026-03-22",
                    "mode": "remote_video",
                    "duration_minutes": 60,
                    "participants": 3,
                    "topics": ["referral_pathways", "governance"],
                    "goal_codes": ["referral_sop"],
                    "observations": "Referral SOP drafted; not yet used.",
                    "action_points": [
                        {
                            "id": "7773e05a-a76b-4bdb-8112-c36343e9951d",
                            "description": "Adopt the referral SOP at the "
                            "board meeting",
                            "owner": "CSO director",
                            "due_on": "2026-04-05",
                        }
                    ],
                }
            ]
        }
    )

    id: uuid.UUID | None = None
    held_on: date
    mode: VisitMode
    duration_minutes: int = Field(ge=5, le=720)
    participant_trainee_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=100
    )
    participants: int = Field(
        ge=0, le=500, description="Everyone who took part, trainees or not."
    )
    topics: list[Topic] = Field(min_length=1, max_length=20)
    goal_codes: list[Code] = Field(default_factory=list, max_length=50)
    observations: Text | None = Field(default=None, max_length=10_000)
    action_points: list[ActionPointCreate] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _counts(self) -> VisitCreate:
        if self.participants < len(self.participant_trainee_ids):
            raise ValueError("participants is fewer than the trainees named")
        return self


class ActionPointUpdate(_In):
    """A change of an action point's status, dated."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "done", "on": "2026-04-01"}]}
    )

    status: ActionStatus
    on: date


class ActionPointRead(BaseModel):
    """An action point and how far it has got."""

    id: uuid.UUID
    plan_id: uuid.UUID
    visit_id: uuid.UUID
    description: str | None
    owner: str | None
    due_on: date
    status: ActionStatus
    completed_on: date | None
    version: int


class VisitRead(BaseModel):
    """A mentoring visit."""

    id: uuid.UUID
    plan_id: uuid.UUID
    held_on: date
    mode: VisitMode
    duration_minutes: int
    mentor: str
    participant_trainee_ids: list[uuid.UUID]
    participants: int
    topics: list[str]
    goal_codes: list[str]
    observations: str | None
    action_points: list[ActionPointRead]


class PlanRead(BaseModel):
    """A mentoring plan."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mentored_organisation_id: uuid.UUID | None
    trainee_id: uuid.UUID | None
    capacity_tool: str | None
    project_id: uuid.UUID | None = None
    starts_on: date
    ends_on: date
    goals: list[Goal]
    created_by: str


class PlanProgress(BaseModel):
    """A plan with its visits' totals and action points by status. The
    change it brought is measured by the next capacity assessment naming the
    plan (beneficiary service, ``GET /v1/capacity-change?mentoring_plan_id=``)."""

    plan: PlanRead
    visits: int
    hours: float
    action_points: dict[str, int]
    capacity_change: str = Field(description="Where the plan's change is measured.")
