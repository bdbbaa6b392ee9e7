"""A project's progress: for each target (an indicator, optionally one
disaggregation cell) the indicator's total over the project's period,
filtered on the project, in the caller's scope, against the target."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.reporting.access.service import Caller
from services.reporting.catalogue.catalogue import indicators
from services.reporting.engine.store import FactStore
from services.reporting.facts.models import ProjectFact
from services.reporting.indicators.service import answer
from services.reporting.settings import ReportingSettings
from shared.errors import Forbidden, Invalid, NotFound


class TargetProgress(BaseModel):
    """One target and the actual figure so far."""

    indicator: str
    dims: dict[str, str] = Field(description="The target's cell; empty: all.")
    target: float
    actual: int | float | None = Field(
        description="The indicator over the project's period, filtered on "
        "the project (and the cell); null when suppressed or not answerable."
    )
    percent: float | None = Field(description="actual / target × 100, one decimal.")
    suppressed: bool = False
    note: str | None = Field(
        default=None, description="Why there is no actual, when there is none."
    )


class ProjectProgress(BaseModel):
    """A project's actual figures against its targets."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "project_id": "a212edd3-51a7-4427-a66a-00258e621ec8",
                    "organisation_id": "20fcbd03-ebfd-4796-9629-6a9549084b51",
                    "start": "2026-01-01",
                    "end": "2026-06-30",
                    "version": 2,
                    "targets": [
                        {
                            "indicator": "people_trained",
                            "dims": {},
                            "target": 4.0,
                            "actual": 3,
                            "percent": 75.0,
                            "suppressed": False,
                            "note": None,
                        }
                    ],
                }
            ]
        }
    )

    project_id: uuid.UUID
    organisation_id: uuid.UUID = Field(description="The lead organisation.")
    start: date
    end: date
    version: int = Field(description="The project version the targets are of.")
    targets: list[TargetProgress]


async def get_project_fact(
    session: AsyncSession, caller: Caller, project_id: uuid.UUID
) -> ProjectFact:
    """The project, if the caller's organisation leads it or is one of its
    partners; otherwise the same 404 as for no project."""
    found = (
        await session.execute(
            select(ProjectFact).where(col(ProjectFact.project_id) == project_id)
        )
    ).scalar_one_or_none()
    if found is None or not (
        found.organisation_id == caller.organisation_id
        or str(caller.organisation_id) in found.partner_organisation_ids
    ):
        raise NotFound("No such project.")
    return found


async def project_progress(
    store: FactStore,
    settings: ReportingSettings,
    caller: Caller,
    project: ProjectFact,
) -> ProjectProgress:
    """Each target against its actual. A target whose indicator is not in
    the catalogue, cannot be broken down by project, or is not the caller's
    to read gets a note instead of a figure; the others are answered as
    ``/v1/indicators/{id}/values`` would (suppression included)."""
    catalogue = indicators()
    rows = []
    for target in project.targets:
        indicator_id = str(target["indicator"])
        dims = {str(k): str(v) for k, v in dict(target.get("dims", {})).items()}
        row = TargetProgress(
            indicator=indicator_id,
            dims=dims,
            target=float(target["target"]),
            actual=None,
            percent=None,
        )
        indicator = catalogue.get(indicator_id)
        if indicator is None:
            row.note = "not an indicator of the catalogue"
        elif "project" not in indicator.disaggregations:
            row.note = "this indicator is not broken down by project"
        else:
            try:
                values = await answer(
                    store,
                    settings,
                    caller,
                    indicator,
                    start=project.start,
                    end=project.end,
                    filters={
                        "project": [str(project.project_id)],
                        **{k: [v] for k, v in dims.items()},
                    },
                )
            except (Forbidden, Invalid) as refused:
                row.note = refused.detail
            else:
                row.actual = values.total.value
                row.suppressed = values.total.suppressed
                if row.actual is not None:
                    row.percent = round(row.actual / row.target * 100, 1)
        rows.append(row)
    return ProjectProgress(
        project_id=project.project_id,
        organisation_id=project.organisation_id,
        start=project.start,
        end=project.end,
        version=project.version,
        targets=rows,
    )
