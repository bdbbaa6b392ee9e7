"""The organisations and projects a trainee, cohort or mentoring plan names
are the beneficiary service's: checked there over HTTP before anything is
written (docs/decisions/0012-projects-teams-partnerships.md).

An organisation must exist (the directory is public); a project must be one
the caller's organisation leads or is a listed partner in, and its period
must overlap the record's dates. Another organisation's project is a 422 like
an unknown id. The beneficiary service down is a 503 (``PeerUnavailable``),
as for a practice group's clients; nothing named, nothing asked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from services.training.settings import TrainingSettings
from shared.app import Runtime
from shared.contracts.lookups import IdsLookup, OrganisationsFound, ProjectsFound
from shared.errors import FieldError, Invalid

Loc = list[str | int]


@dataclass(frozen=True)
class NamedProject:
    """A project id as a record names it, with the record's dates."""

    loc: Loc
    id: uuid.UUID | None
    starts_on: date
    ends_on: date | None = None


async def check_references(
    runtime: Runtime,
    organisation_id: uuid.UUID,
    *,
    organisations: list[tuple[Loc, uuid.UUID | None]] | None = None,
    project: NamedProject | None = None,
) -> None:
    """422 naming each field whose organisation or project may not be named."""
    settings = runtime.settings
    assert isinstance(settings, TrainingSettings)
    peer = settings.beneficiary
    errors: list[FieldError] = []
    named = [(loc, i) for loc, i in organisations or [] if i is not None]
    if named:
        found = await peer.post(
            runtime,
            "/v1/organisations/lookup",
            OrganisationsFound,
            json=IdsLookup(ids=[i for _, i in named]).model_dump(mode="json"),
            organisation_id=organisation_id,
        )
        known = set(found.found)
        errors += [
            FieldError(loc=loc, msg="unknown organisation", type="organisation")
            for loc, i in named
            if i not in known
        ]
    if project is not None and project.id is not None:
        periods = await peer.post(
            runtime,
            "/v1/projects/lookup",
            ProjectsFound,
            json=IdsLookup(ids=[project.id]).model_dump(mode="json"),
            organisation_id=organisation_id,
        )
        period = periods.found.get(project.id)
        last = project.ends_on or project.starts_on
        if period is None:
            errors.append(
                FieldError(
                    loc=project.loc, msg="unknown project", type="unknown_project"
                )
            )
        elif project.starts_on > period.end or last < period.start:
            errors.append(
                FieldError(
                    loc=project.loc,
                    msg=f"the project runs from {period.start} to {period.end}",
                    type="period",
                )
            )
    if errors:
        raise Invalid(
            "Some organisations or projects named are not known to your organisation.",
            errors=errors,
        )
