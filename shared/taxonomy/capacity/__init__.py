"""Organisational capacity assessment (OCA) tools as data, versioned like the
clinical instruments: domains of items scored on levels 1 (nascent) to 4
(mature), each with its evidence. A domain's score is the mean of its items'
levels, so a baseline and a follow-up of one tool version compare domain by
domain. A new version is a new file; released files never change."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CapacityLevel(_Model):
    """A level an item can be scored at, with its meaning."""

    level: int
    label: str


class CapacityItem(_Model):
    """One statement an organisation is scored on."""

    id: str
    text: str


class CapacityDomain(_Model):
    """A domain of organisational capacity and the items that measure it."""

    code: str
    name: str
    items: list[CapacityItem]


class CapacityTool(_Model):
    """A versioned organisational capacity assessment tool."""

    code: str
    version: str
    name: str
    source: str
    levels: list[CapacityLevel]
    domains: list[CapacityDomain]

    @property
    def key(self) -> str:
        return f"{self.code}@{self.version}"

    def domain_of(self) -> dict[str, str]:
        """Each item's domain code."""
        return {i.id: d.code for d in self.domains for i in d.items}

    def score_errors(self, levels: dict[str, int]) -> list[tuple[str, str]]:
        """(item, problem) for every unknown or missing item and bad level."""
        allowed = {lv.level for lv in self.levels}
        known = self.domain_of()
        errors = [(item, "unknown item") for item in levels if item not in known]
        errors += [(item, "missing") for item in known if item not in levels]
        errors += [
            (item, f"must be one of {sorted(allowed)}")
            for item, level in levels.items()
            if item in known and (type(level) is not int or level not in allowed)
        ]
        return errors

    def domain_scores(self, levels: dict[str, int]) -> dict[str, float]:
        """The mean level of each domain's items (rounded to 2 places)."""
        return {
            d.code: round(sum(levels[i.id] for i in d.items) / len(d.items), 2)
            for d in self.domains
        }


@cache
def capacity_tools() -> dict[str, CapacityTool]:
    """Every shipped tool by ``code@version``, read once from the package."""
    folder = resources.files("shared.taxonomy.capacity")
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            tool = CapacityTool.model_validate(json.loads(entry.read_text()))
            found[tool.key] = tool
    return found


def capacity_domains() -> frozenset[str]:
    """Every domain code of every tool: what a mentoring goal may name."""
    return frozenset(d.code for t in capacity_tools().values() for d in t.domains)
