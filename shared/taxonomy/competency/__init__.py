"""Competency rating tools as data, modelled on WHO EQUIP's ENACT and
GroupACT: items rated on levels 1 (potentially harmful) to 4 (basic and
advanced behaviours). A trainee's overall level is the lowest item level, so
one harmful behaviour is never averaged away."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(_Model):
    level: int
    label: str


class CompetencyItem(_Model):
    id: str
    name: str


class CompetencyTool(_Model):
    code: str
    version: str
    name: str
    source: str
    levels: list[Level]
    items: list[CompetencyItem]
    harmful_level: int

    @property
    def key(self) -> str:
        return f"{self.code}@{self.version}"

    def rating_errors(self, ratings: dict[str, int]) -> list[tuple[str, str]]:
        """(item, problem) for every unknown item, missing item or bad level."""
        allowed = {lv.level for lv in self.levels}
        known = {i.id for i in self.items}
        errors = [(item, "unknown item") for item in ratings if item not in known]
        errors += [(i.id, "missing") for i in self.items if i.id not in ratings]
        errors += [
            (item, f"must be one of {sorted(allowed)}")
            for item, level in ratings.items()
            if item in known and (type(level) is not int or level not in allowed)
        ]
        return errors


@cache
def competency_tools() -> dict[str, CompetencyTool]:
    folder = resources.files("shared.taxonomy.competency")
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            tool = CompetencyTool.model_validate(json.loads(entry.read_text()))
            found[tool.key] = tool
    return found
