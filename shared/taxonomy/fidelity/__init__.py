"""Fidelity checklists as data: items rated on a small scale; the adherence
score is the share of the maximum (0-100)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScalePoint(_Model):
    value: int
    label: str


class ChecklistItem(_Model):
    id: str
    name: str


class FidelityChecklist(_Model):
    code: str
    version: str
    name: str
    source: str
    scale: list[ScalePoint]
    items: list[ChecklistItem]

    @property
    def key(self) -> str:
        return f"{self.code}@{self.version}"

    def problems(self, ratings: dict[str, int]) -> list[tuple[str, str]]:
        allowed = {p.value for p in self.scale}
        known = {i.id for i in self.items}
        out = [(item, "unknown item") for item in ratings if item not in known]
        out += [(i.id, "missing") for i in self.items if i.id not in ratings]
        out += [
            (item, f"must be one of {sorted(allowed)}")
            for item, value in ratings.items()
            if item in known and (type(value) is not int or value not in allowed)
        ]
        return out

    def adherence(self, ratings: dict[str, int]) -> float:
        top = max(p.value for p in self.scale) * len(self.items)
        return round(100 * sum(ratings.values()) / top, 1)


@cache
def checklists() -> dict[str, FidelityChecklist]:
    folder = resources.files("shared.taxonomy.fidelity")
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            checklist = FidelityChecklist.model_validate(json.loads(entry.read_text()))
            found[checklist.key] = checklist
    return found
