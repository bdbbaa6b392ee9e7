"""What the training service asks the beneficiary service about the
organisations and projects a trainee, cohort or mentoring plan names
(``POST /v1/organisations/lookup``, ``POST /v1/projects/lookup``, machine
accounts only): ids in, the ones that may be named out, nothing else."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class IdsLookup(BaseModel):
    """Ids to check in one call."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"ids": ["12f35de4-035d-419d-943e-0ca3de416d7b"]}]
        },
    )

    ids: list[uuid.UUID] = Field(min_length=1, max_length=100)


class OrganisationsFound(BaseModel):
    """Which of the ids are organisations on the platform (the directory is
    public: any organisation may be named as an employer or a mentee)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"found": ["12f35de4-035d-419d-943e-0ca3de416d7b"]}]
        }
    )

    found: list[uuid.UUID]


class ProjectPeriod(BaseModel):
    """A project's period (inclusive)."""

    start: date
    end: date


class ProjectsFound(BaseModel):
    """Which of the ids are projects the acting organisation leads or is a
    listed partner in, with their periods; another organisation's project
    is left out exactly like an unknown id."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "found": {
                        "0b6f0d0e-9a41-4c1e-8f0c-3a5d2f7e6b11": {
                            "start": "2026-02-01",
                            "end": "2026-04-30",
                        }
                    }
                }
            ]
        }
    )

    found: dict[uuid.UUID, ProjectPeriod]
