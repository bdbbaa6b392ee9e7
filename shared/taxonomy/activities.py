"""The controlled activity taxonomy (version ``ACTIVITY_TAXONOMY_VERSION``):
every activity a service record may carry, mapped to its IASC layer.

The list is data (``activities.csv``): adding an activity means a row there,
not code. Codes are never renamed or removed once released, so old records
keep their meaning; retire one by leaving it in place.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from shared.taxonomy.iasc import IascLayer

ACTIVITY_TAXONOMY_VERSION = "2026.2"


class ActivityKind(StrEnum):
    individual = "individual"
    group = "group"
    any = "any"


class ActivityUnit(StrEnum):
    """What one holding of a group activity is counted as: reports give
    meetings held apart from sessions held."""

    session = "session"
    meeting = "meeting"


@dataclass(frozen=True)
class Activity:
    code: str
    name: str
    iasc_layer: IascLayer
    kind: ActivityKind
    unit: ActivityUnit


@cache
def activities() -> dict[str, Activity]:
    """All activities by code, read once from the packaged CSV."""
    text = resources.files("shared.taxonomy").joinpath("activities.csv").read_text()
    rows = csv.DictReader(text.splitlines())
    return {
        row["code"]: Activity(
            code=row["code"],
            name=row["name"],
            iasc_layer=IascLayer(row["iasc_layer"]),
            kind=ActivityKind(row["kind"]),
            unit=ActivityUnit(row["unit"]),
        )
        for row in rows
    }


def get_activity(code: str) -> Activity | None:
    return activities().get(code)


@cache
def presenting_problems() -> dict[str, str]:
    """The controlled list of presenting problems for case intake, by code."""
    text = (
        resources.files("shared.taxonomy")
        .joinpath("presenting_problems.csv")
        .read_text()
    )
    return {row["code"]: row["name"] for row in csv.DictReader(text.splitlines())}


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("shared.taxonomy").joinpath(name).read_text()
    return list(csv.DictReader(text.splitlines()))


@cache
def topics() -> dict[str, str]:
    """The controlled list of topics a service or group session is about
    (``topics.csv``), by code."""
    return {row["code"]: row["name"] for row in _rows("topics.csv")}


@dataclass(frozen=True)
class RiskType:
    """A kind of risk a worker can flag, and its alert rule: the case's
    supervisor is always notified; ``notify_roles`` are the roles of the
    organisation notified too; ``from_assessments`` says whether an
    instrument's answers raise it (only suicide risk today)."""

    code: str
    name: str
    notify_roles: tuple[str, ...]
    from_assessments: bool


@cache
def risk_types() -> dict[str, RiskType]:
    """The risk types alerts are raised for (``risk_types.csv``), by code."""
    return {
        row["code"]: RiskType(
            code=row["code"],
            name=row["name"],
            notify_roles=tuple(r for r in row["notify_roles"].split(";") if r),
            from_assessments=row["from_assessments"] == "yes",
        )
        for row in _rows("risk_types.csv")
    }
