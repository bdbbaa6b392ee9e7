"""Request and response models for projects. A target names an indicator of
the reporting catalogue by id, optionally for one disaggregation cell."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.contracts.text import Text

IndicatorId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
DimName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
DimValue = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.+:-]{1,64}$")]


class TargetIn(BaseModel):
    """A project's target for one indicator, optionally for one breakdown."""

    model_config = ConfigDict(extra="forbid")

    indicator: IndicatorId = Field(description="An id of GET /v1/indicators.")
    target: float = Field(gt=0, le=1e9)
    dims: dict[DimName, DimValue] = Field(
        default_factory=dict,
        max_length=3,
        description='A disaggregation cell, e.g. {"sex": "female"}; empty: '
        "the whole indicator.",
    )


class _Period(BaseModel):
    @model_validator(mode="after")
    def _ordered(self) -> _Period:
        start, end = getattr(self, "start", None), getattr(self, "end", None)
        if start is not None and end is not None and end < start:
            raise ValueError("end is before start")
        return self


def _distinct_targets(targets: list[TargetIn] | None) -> None:
    if targets is None:
        return
    keys = [(t.indicator, tuple(sorted(t.dims.items()))) for t in targets]
    if len(keys) != len(set(keys)):
        raise ValueError("a target is given twice for one indicator and cell")


class ProjectCreate(_Period):
    """A donor-funded project with its period, partners, places and targets."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Community resilience",
                    "donor": "A foreign ministry",
                    "grant_code": "FM-2026-07",
                    "start": "2026-01-01",
                    "end": "2026-06-30",
                    "partner_organisation_ids": [
                        "3ba27d16-9735-4847-8225-6492e7428299",
                        "18432cb4-0b11-4522-a696-74427849884d",
                    ],
                    "targets": [
                        {"indicator": "services_delivered", "target": 20},
                        {"indicator": "people_reached", "target": 10},
                    ],
                }
            ]
        },
        extra="forbid",
    )

    name: Text = Field(min_length=1, max_length=200)
    donor: Text = Field(min_length=1, max_length=200)
    grant_code: Text | None = Field(default=None, max_length=100)
    start: date
    end: date
    partner_organisation_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=200
    )
    location_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500)
    targets: list[TargetIn] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _targets(self) -> ProjectCreate:
        _distinct_targets(self.targets)
        return self


class ProjectUpdate(_Period):
    """Changes to a project."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"end": "2026-09-30", "targets": []}]},
        extra="forbid",
    )

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    donor: Text | None = Field(default=None, min_length=1, max_length=200)
    grant_code: Text | None = Field(default=None, max_length=100)
    start: date | None = None
    end: date | None = None
    partner_organisation_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=200
    )
    location_ids: list[uuid.UUID] | None = Field(default=None, max_length=500)
    targets: list[TargetIn] | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _targets(self) -> ProjectUpdate:
        _distinct_targets(self.targets)
        return self


class ProjectRead(BaseModel):
    """A project."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "a3c0e723-083d-4429-8a0e-7f70be1ed983",
                    "organisation_id": "528b192b-5acd-450c-8b31-97469993c91a",
                    "name": "Community resilience",
                    "donor": "A foreign ministry",
                    "grant_code": "FM-2026-07",
                    "start": "2026-01-01",
                    "end": "2026-06-30",
                    "partner_organisation_ids": [
                        "3ba27d16-9735-4847-8225-6492e7428299",
                        "18432cb4-0b11-4522-a696-74427849884d",
                    ],
                    "location_ids": [],
                    "targets": [
                        {"indicator": "services_delivered", "target": 20.0, "dims": {}},
                        {"indicator": "people_reached", "target": 10.0, "dims": {}},
                    ],
                    "version": 1,
                    "created_by": "user-a6565f",
                    "created_at": "2026-02-03T09:15:00Z",
                    "updated_at": "2026-02-03T09:15:00Z",
                }
            ]
        },
        from_attributes=True,
    )

    id: uuid.UUID
    organisation_id: uuid.UUID = Field(description="The lead organisation.")
    name: str
    donor: str
    grant_code: str | None
    start: date
    end: date
    partner_organisation_ids: list[uuid.UUID]
    location_ids: list[uuid.UUID]
    targets: list[TargetIn]
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
