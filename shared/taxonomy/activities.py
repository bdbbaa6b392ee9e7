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
